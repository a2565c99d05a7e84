"""`tandem seed`: fill a database with a realistic synthetic week, so a new user sees a full digest at once.

Conversations are written through the store's own methods and the shared vocabulary (the same audit
actions, states and draft statuses as the conversation service), with a travelling clock: customer messages, drafts and their decisions, handoffs, takeovers and handbacks, agent
replies, resolutions and ratings, on Slack and Discord, busier on weekdays and office hours.
Deterministic for a given --seed.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.ports import Store
from vocab import (
    TANDEM,
    Address,
    AuditAction,
    AuthorKind,
    ConversationChange,
    DraftStatus,
    Handoff,
    State,
)

AGENTS = {"slack": ["alice", "bruno", "chen"], "discord": ["dana", "eli"]}
KNOWN = ["How does pay in 4 work?", "Can I change my payment date?", "What happens if I pay late?",
         "Where is my refund?", "How do I update my card?", "Is there a fee for paying early?",
         "Can I cancel my order?", "How do I close my account?"]
GAPS = ["Can I export my invoices as CSV?", "export invoices to csv please", "Do you support Apple Pay?",
        "apple pay supported?", "How do I add a second user to my account?", "Can I pay in crypto?"]
ANSWER = "Thanks for asking! Here is how it works: you can find this under Settings > Payments."
# (scenario, weight)
SCENARIOS = [("approve", 30), ("edit", 14), ("auto", 18), ("reject", 6), ("gap", 10), ("human", 8),
             ("frustrated", 4), ("failed", 3), ("superseded", 5), ("pending", 2)]
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 10, 9, 8, 9, 10, 9, 8, 6, 5, 4, 3, 2, 2, 1]


class _Clock:
    def __init__(self, t: datetime):
        self.t = t

    def __call__(self) -> datetime:
        return self.t

    def tick(self, rng: random.Random, lo: float, hi: float) -> None:
        self.t += timedelta(seconds=rng.uniform(lo, hi))


def seed_database(make_store: Callable[[Callable[[], datetime]], Store], *, days: int = 7, per_day: int = 70, tz: ZoneInfo = ZoneInfo("UTC"),
                  now: datetime | None = None, seed: int = 7, progress: Callable[[int], None] | None = None) -> int:
    """Write ~`per_day` conversations a day (fewer at weekends) over the last `days` local days up to `now`
    (today so far included, like the digest's default period), through the store `make_store(clock)` returns.
    Returns the number written."""
    rng = random.Random(seed)
    now = now or datetime.now(tz)
    today = now.astimezone(tz).date()
    clock = _Clock(now)
    store = make_store(clock)
    written = 0
    for back in range(days - 1, -1, -1):
        day = today - timedelta(days=back)
        count = int(per_day * (0.45 if day.weekday() >= 5 else 1.0) * rng.uniform(0.85, 1.15))
        starts = sorted(
            datetime.combine(day, time(rng.choices(range(24), HOUR_WEIGHTS)[0], rng.randrange(60),
                                       rng.randrange(60)), tz)
            for _ in range(count)
        )
        starts = [s for s in starts if s < now - timedelta(hours=6)] if back == 0 else starts
        with store.atomic():
            for start in starts:
                clock.t = start
                _conversation(store, clock, rng, written)
                written += 1
        if progress:
            progress(1)
    return written


def _conversation(store: Store, clock: _Clock, rng: random.Random, n: int) -> None:
    platform = "slack" if rng.random() < 0.58 else "discord"
    agent = rng.choice(AGENTS[platform])
    scenario = rng.choices([s for s, _ in SCENARIOS], [w for _, w in SCENARIOS])[0]
    question = rng.choice(GAPS if scenario in ("gap", "failed") else KNOWN)
    conv = store.open_conversation(Address(platform, f"C{n % 7}", f"{n}.0001"), f"U{n}", f"customer{n}", "en")
    mid = store.append_message(conv.id, AuthorKind.CUSTOMER, question, platform)

    def draft(status: DraftStatus, confidence: float | None, reason: Handoff | None = None) -> int:
        did = store.create_draft_job(conv.id, mid)
        clock.tick(rng, 1, 6)
        store.complete_draft(did, status=status, text=None if status == DraftStatus.FAILED else ANSWER, sources=[],
                             confidence=confidence, drafter="kb", model=None, latency_ms=rng.uniform(5, 900),
                             handoff_reason=reason)
        return did

    def send(kind: AuthorKind, text: str, draft_id: int | None = None, who: str = "") -> None:
        m = store.append_message(conv.id, kind, text, platform, draft_id=draft_id, author_id=who, author_name=who)
        clock.tick(rng, 0.3, 2)
        store.mark_message_delivered(m, f"p{m}")

    def change(**fields) -> None:
        store.change_conversation(conv.id, ConversationChange(**fields))

    def handoff(reason: Handoff) -> None:
        change(state=State.WAITING_HUMAN, handoff_reason=reason, handoff_at=store.now())
        store.log_event(TANDEM, AuditAction.HANDOFF, conversation_id=conv.id, reason=reason)
        send(AuthorKind.SYSTEM, "A person will take it from here.")

    def agent_takes_over() -> None:
        clock.tick(rng, 60, 2400)
        store.log_event(agent, AuditAction.TAKEOVER, actor_role="agent", conversation_id=conv.id)
        change(state=State.HUMAN, assignee=agent, human_involved=True)
        clock.tick(rng, 20, 300)
        send(AuthorKind.AGENT, "Hi, I'm looking into this for you now.", who=agent)
        store.log_event(agent, AuditAction.REPLY, actor_role="agent", conversation_id=conv.id)

    def decide(did: int, status: DraftStatus) -> None:
        clock.tick(rng, 20, 1500 if rng.random() < 0.85 else 7200)
        distance = rng.randint(4, 40) if status == DraftStatus.EDITED else 0
        store.decide_draft(did, status, agent, final_text=ANSWER, edit_distance=distance)
        store.log_event(agent, AuditAction.APPROVE if status == DraftStatus.APPROVED else AuditAction.EDIT,
                        actor_role="agent", conversation_id=conv.id, draft_id=did, edit_distance=distance)
        send(AuthorKind.BOT, ANSWER, did, agent)

    human = False
    if scenario in ("approve", "edit"):
        decide(draft(DraftStatus.PENDING, rng.uniform(0.5, 0.85)),
               DraftStatus.APPROVED if scenario == "approve" else DraftStatus.EDITED)
        human = True
    elif scenario == "auto":
        did = draft(DraftStatus.AUTO_SENT, rng.uniform(0.86, 0.99))
        store.decide_draft(did, DraftStatus.AUTO_SENT, TANDEM, final_text=ANSWER, edit_distance=0)
        store.log_event(TANDEM, AuditAction.AUTO_SEND, conversation_id=conv.id, draft_id=did)
        send(AuthorKind.BOT, ANSWER, did)
    elif scenario == "superseded":
        draft(DraftStatus.PENDING, 0.7)
        clock.tick(rng, 10, 60)
        mid = store.append_message(conv.id, AuthorKind.CUSTOMER, "Also, is there a fee?", platform)
        store.supersede_open_drafts(conv.id, TANDEM)
        decide(draft(DraftStatus.PENDING, 0.75), DraftStatus.APPROVED)
        human = True
    elif scenario == "pending":
        draft(DraftStatus.PENDING, 0.6)
        return
    else:
        reason = {"reject": Handoff.DRAFT_REJECTED, "gap": Handoff.LOW_CONFIDENCE, "human": Handoff.ASKED_FOR_HUMAN,
                  "frustrated": Handoff.FRUSTRATION, "failed": Handoff.DRAFTER_ERROR}[scenario]
        if scenario == "reject":
            did = draft(DraftStatus.PENDING, 0.55)
            clock.tick(rng, 30, 900)
            store.decide_draft(did, DraftStatus.REJECTED, agent, reject_reason="not accurate")
            store.log_event(agent, AuditAction.REJECT, actor_role="agent", conversation_id=conv.id, draft_id=did)
        elif scenario in ("gap", "failed"):
            draft(DraftStatus.PENDING if scenario == "gap" else DraftStatus.FAILED,
                  rng.uniform(0.1, 0.4) if scenario == "gap" else None, reason)
        handoff(reason)
        if rng.random() < 0.12:
            return  # still waiting for a person
        agent_takes_over()
        human = True
        if rng.random() < 0.3:
            clock.tick(rng, 60, 600)
            store.log_event(agent, AuditAction.HANDBACK, actor_role="agent", conversation_id=conv.id)
            change(state=State.BOT)
    if rng.random() < 0.07:
        return  # left open
    clock.tick(rng, 120, 5 * 3600)
    change(state=State.RESOLVED, resolved_at=store.now(), human_involved=human)
    store.log_event(agent if human else TANDEM, AuditAction.RESOLVE, actor_role="agent" if human else "",
                    conversation_id=conv.id)
    if rng.random() < 0.35:
        clock.tick(rng, 30, 600)
        store.add_rating(conv.id, rng.choices([1, 2, 3, 4, 5], [3, 4, 10, 30, 53])[0], f"U{n}")
