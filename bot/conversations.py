"""The conversation service: the one owner of every change in a conversation's life.

Hand off, take over, hand back, reply as an agent, decide a draft, resolve, reopen, rate, assign, supersede:
each transition is a method here, and each keeps its invariants inside it, so no caller can forget one:
open drafts are superseded and each is logged, the customer is told what happens next, the review card is
refreshed, and the audit row is written, all in the caller's transaction together with the outbox rows it
queues. It reads and writes through the store only; it knows nothing of the core's workers, the adapters
or the platforms. The inbound rules (bot/rules.py) and the agents' commands (bot/desk.py) decide *which*
transition happens; this module is *how*.
"""
from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import timedelta

from rapidfuzz.distance import Levenshtein

from bot import emojis, texts
from bot.config import Settings
from bot.ports import Store
from bot.routing import Routing, in_scope
from bot.safety import OutboundPolicy, policy_for
from bot.snippets import SnippetBook
from vocab import (
    TANDEM,
    Actor,
    Address,
    AuditAction,
    AuthorKind,
    Conversation,
    ConversationChange,
    Draft,
    DraftStatus,
    Handoff,
    Mode,
    OutboxKind,
    Role,
    State,
    Style,
)

log = logging.getLogger(__name__)


def role_name(actor: Actor) -> str:
    return actor.role.name.lower()


class ConversationService(Routing):
    def __init__(self, settings: Settings, store: Store, policy: OutboundPolicy | None = None,
                 snippets: SnippetBook | None = None):
        self.settings = settings
        self.store = store
        self.snippets = snippets or SnippetBook()  # the saved replies agents send by name (bot/snippets.py)
        self.policy = policy or policy_for(settings.link_domains)  # what may go out (bot/safety.py)
        stored = store.setting("mode")
        self.mode = Mode(stored) if stored in Mode._value2member_map_ else Mode(settings.tandem_mode)
        self.new_jobs: list[int] = []  # drafting jobs created, until the core takes them (`take_jobs`)

    # ---- the building blocks every transition uses -------------------------------------------------------
    def audit(self, actor: Actor | str, action: AuditAction, **details) -> int:
        if isinstance(actor, Actor):
            return self.store.log_event(actor.label, action, actor_role=role_name(actor), **details)
        return self.store.log_event(actor, action, **details)

    def send(self, conv: Conversation, text: str, *, author_kind: AuthorKind = AuthorKind.BOT,
             style: Style = Style.REPLY, author: Actor | None = None, draft_id: int | None = None) -> int:
        """Log a message to the customer and queue its delivery through the outbox (cleaned: bot/safety.py)."""
        text = self.policy.text(text)
        message_id = self.store.append_message(
            conv.id, author_kind, text, conv.platform,
            author_id=author.user_id if author else "", author_name=author.label if author else "",
            draft_id=draft_id,
        )
        self.store.enqueue_action(conv.platform, OutboxKind.SEND_MESSAGE,
                                  {"address": asdict(conv.address), "text": text, "style": style},
                                  conversation_id=conv.id, message_id=message_id)
        if author_kind in (AuthorKind.BOT, AuthorKind.AGENT):
            self.reply_out(conv)
        return message_id

    def notify(self, conv: Conversation, key: str, **values) -> int:
        """Tell the customer, in their language, what just happened (a system notice)."""
        return self.send(conv, texts.say(key, conv.language, **values), author_kind=AuthorKind.SYSTEM,
                         style=Style.SYSTEM)

    def react(self, conv: Conversation, setting: str, *, remove: bool = False, ref: str | None = None) -> None:
        """Queue a status reaction on the customer's first message, once per conversation, emoji and round (the
        outbox key), so a restart or a replayed event never reacts twice for the same transition, while a
        reopened conversation shows its status again (a round is the time between two reopens); an empty
        setting: no reaction."""
        name = emojis.name_of(setting)
        ref = ref or self.store.first_customer_message_ref(conv.id)
        if not name or not ref:
            return
        rounds = self.store.count_events(conv.id, AuditAction.REOPEN)
        self.store.enqueue_action(conv.platform, OutboxKind.REACT,
                                  {"channel": conv.address.channel, "message_ref": ref, "emoji": name,
                                   "remove": remove},
                                  conversation_id=conv.id,
                                  key=f"react:{conv.id}:{ref}:{name}:{'off' if remove else 'on'}"
                                      + (f":{rounds}" if rounds else ""))  # round 0 keeps the keys it always had

    def refresh_card(self, conv: Conversation) -> None:
        self.store.enqueue_action(conv.platform, OutboxKind.UPSERT_CARD, {"conversation_id": conv.id},
                                  conversation_id=conv.id)

    def supersede(self, conv: Conversation, *, by: Actor | str) -> list[int]:
        """Close every open draft of the conversation (a newer message or a person made them moot); log each."""
        label = by.label if isinstance(by, Actor) else by
        ids = self.store.supersede_open_drafts(conv.id, by=label)
        for draft_id in ids:
            self.audit(by if isinstance(by, Actor) else TANDEM, AuditAction.DRAFT_SUPERSEDED,
                       conversation_id=conv.id, draft_id=draft_id)
        return ids

    def _change(self, conv: Conversation, **fields) -> Conversation:
        return self.store.change_conversation(conv.id, ConversationChange(**fields))

    # ---- customers -----------------------------------------------------------------------------------------
    def open(self, address: Address, customer: Actor, language: str) -> Conversation:
        conv = self.store.open_conversation(address, customer.user_id, customer.name, language)
        self.store.log_event(customer.user_id, AuditAction.OPEN, actor_role="customer", conversation_id=conv.id)
        return conv

    def customer_wrote(self, conv: Conversation, language: str) -> Conversation:
        """A customer message was logged: note when, follow their language, close drafts it made moot."""
        conv = self._change(conv, last_customer_at=self.store.now(), language=language)
        self.supersede(conv, by="customer_message")
        self.expect_reply(conv)
        return conv

    def rate(self, conv: Conversation, rating: int, customer: Actor) -> Conversation:
        self.store.add_rating(conv.id, rating, customer.user_id)
        conv = self._change(conv, awaiting_rating=False)
        self.store.log_event(customer.user_id, AuditAction.RATING, actor_role="customer", conversation_id=conv.id,
                             rating=rating)
        self.notify(conv, "rating.thanks", rating=rating)
        self.refresh_card(conv)
        return conv

    def rating_retry(self, conv: Conversation, text: str, customer: Actor, message_id: int) -> None:
        """The customer tried to rate (`7`, `10/10`, `5 stars`) but not with 1-5: logged, and told how; the
        conversation stays resolved and still waits for the rating."""
        self.store.log_event(customer.user_id, AuditAction.RATING_ATTEMPT, actor_role="customer",
                             conversation_id=conv.id, message_id=message_id, text=text[:40])
        self.notify(conv, "rating.how")

    def reopen_window(self) -> timedelta:
        return timedelta(hours=self.settings.tandem_reopen_hours)

    def reopen(self, conv: Conversation) -> Conversation:
        """One fixed rule: back to the person who handled it, otherwise back to the bot. No ping-pong. The status
        reaction goes back from ✅ to 👀 (a new round: the next resolve shows ✅ again)."""
        if conv.human_involved and (conv.assignee or conv.previous_assignee):
            conv = self._change(conv, state=State.WAITING_HUMAN, handoff_reason=Handoff.REOPENED,
                                assignee=conv.assignee or conv.previous_assignee,
                                handoff_at=self.store.now(), resolved_at=None, awaiting_rating=False, reopened=True)
            self.audit(TANDEM, AuditAction.REOPEN, conversation_id=conv.id, to="human", assignee=conv.assignee)
            self.audit(TANDEM, AuditAction.HANDOFF, conversation_id=conv.id, reason=Handoff.REOPENED,
                       detail=f"back to {conv.assignee}")
            self.notify(conv, "reopened.human", agent=conv.assignee)
        else:
            conv = self._change(conv, state=State.BOT, handoff_reason=None, resolved_at=None, awaiting_rating=False,
                                reopened=True)
            self.audit(TANDEM, AuditAction.REOPEN, conversation_id=conv.id, to="bot")
        self.react(conv, self.settings.tandem_reaction_resolved, remove=True)  # open again: 👀 instead of ✅
        self.react(conv, self.settings.tandem_reaction_seen)
        return conv

    # ---- handing over between the bot and people -----------------------------------------------------------
    def hand_off(self, conv: Conversation, reason: Handoff, detail: str = "", actor: Actor | str = TANDEM
                 ) -> Conversation:
        """Ask a person to take over and tell the customer what happens next (once per handoff)."""
        reason = Handoff(reason)
        if conv.state in (State.WAITING_HUMAN, State.HUMAN):
            self.audit(actor, AuditAction.HANDOFF_SIGNAL, conversation_id=conv.id, reason=reason, detail=detail)
            return conv
        conv = self._change(conv, state=State.WAITING_HUMAN, handoff_reason=reason, handoff_at=self.store.now())
        self.audit(actor, AuditAction.HANDOFF, conversation_id=conv.id, reason=reason, detail=detail)
        hours = self.settings.support_hours
        notice = texts.handoff_notice(
            reason.value, conv.language, open_now=hours.is_open(self.store.clock()),
            minutes=self.settings.tandem_expected_wait_minutes, hours=hours.describe(),
        )
        self.send(conv, notice, author_kind=AuthorKind.SYSTEM, style=Style.SYSTEM)
        self.expect_reply(conv)
        self.refresh_card(conv)
        conv = self.route(conv)
        log.info("conversation #%s handed off: %s %s", conv.id, reason.value, detail, extra={"conversation_id": conv.id})
        return conv

    def take_over(self, conv: Conversation, agent: Actor, *, via: str = "command", announce: bool = True
                  ) -> Conversation:
        """The agent owns the conversation; the bot stays silent until it is handed back."""
        previous = conv.assignee if conv.state == State.HUMAN else None
        self.supersede(conv, by=agent)
        conv = self._change(conv, state=State.HUMAN, assignee=agent.label, assignee_id=agent.user_id,
                            handoff_reason=None, human_involved=True)
        self.audit(agent, AuditAction.TAKEOVER, conversation_id=conv.id, via=via, previous=previous)
        if announce:
            self.notify(conv, "takeover", agent=agent.label)
        self.refresh_card(conv)
        return conv

    def hand_back(self, conv: Conversation, agent: Actor) -> Conversation:
        conv = self._change(conv, state=State.BOT, handoff_reason=None, assignee=None, assignee_id=None,
                            previous_assignee=conv.assignee or conv.previous_assignee)
        self.reply_out(conv, answered=False)
        self.audit(agent, AuditAction.HANDBACK, conversation_id=conv.id)
        self.notify(conv, "handback")
        self.refresh_card(conv)
        return conv

    def agent_wrote(self, conv: Conversation, agent: Actor) -> Conversation:
        """An agent wrote straight into the customer's conversation (already logged): that is a takeover."""
        if conv.first_response_at is None:
            conv = self._change(conv, first_response_at=self.store.now())
        self.reply_out(conv)
        if conv.state != State.HUMAN or conv.assignee != agent.label:
            return self.take_over(conv, agent, via="message", announce=False)
        conv = self._change(conv, human_involved=True)
        self.refresh_card(conv)
        return conv

    def reply(self, conv: Conversation, agent: Actor, text: str, *, snippet: str | None = None) -> Conversation:
        """The agent writes to the customer through Tandem; they own the conversation after. `snippet`: the
        saved reply the text was filled from (named in the audit row)."""
        if conv.state != State.HUMAN:
            conv = self.take_over(conv, agent, via="reply", announce=False)
        else:
            conv = self._change(conv, human_involved=True)
        self.send(conv, text, author_kind=AuthorKind.AGENT, style=Style.AGENT, author=agent)
        self.audit(agent, AuditAction.REPLY, conversation_id=conv.id, chars=len(text),
                   **({"snippet": snippet} if snippet else {}))
        self.refresh_card(conv)
        return conv

    def note(self, conv: Conversation, agent: Actor, text: str) -> None:
        self.store.append_message(conv.id, AuthorKind.NOTE, text, conv.platform, author_id=agent.user_id,
                                  author_name=agent.label)
        self.audit(agent, AuditAction.NOTE, conversation_id=conv.id, chars=len(text))

    def assign(self, conv: Conversation, agent: Actor, assignee: str) -> Conversation:
        """Assign to an agent (a known agent is mentioned in the card's thread, so they hear of it)."""
        label, user_id = self.assignee_of(conv, assignee, agent)
        conv = self._change(conv, assignee=label, assignee_id=user_id)
        self.audit(agent, AuditAction.ASSIGN, conversation_id=conv.id, assignee=label, assignee_id=user_id)
        if user_id != agent.user_id:
            self.tell_agents(conv, f"#{conv.id} ({conv.customer}) is assigned to you by {agent.label}.",
                             ((user_id, label),))
        self.refresh_card(conv)
        return conv

    def resolve(self, conv: Conversation, agent: Actor) -> Conversation:
        discarded = self.supersede(conv, by=agent)
        conv = self._change(conv, state=State.RESOLVED, resolved_at=self.store.now(), awaiting_rating=True,
                            handoff_reason=None, assignee=None, assignee_id=None,
                            previous_assignee=conv.assignee or conv.previous_assignee)
        self.reply_out(conv, answered=False)
        self.audit(agent, AuditAction.RESOLVE, conversation_id=conv.id, discarded_drafts=discarded)
        self.notify(conv, "resolved")
        self.refresh_card(conv)
        self.react(conv, self.settings.tandem_reaction_seen, remove=True)
        self.react(conv, self.settings.tandem_reaction_resolved)
        return conv

    # ---- drafts --------------------------------------------------------------------------------------------
    def send_draft(self, conv: Conversation, draft: Draft, final: str, agent: Actor, *, snippet: str | None = None
                   ) -> DraftStatus:
        """An agent approved a draft as it is or with their edits: send it; a handoff is then satisfied.
        `snippet`: the saved reply sent in its place (named in the audit row)."""
        status = DraftStatus.APPROVED if final.strip() == (draft.text or "").strip() else DraftStatus.EDITED
        distance = Levenshtein.distance(draft.text or "", final)
        self.store.decide_draft(draft.id, status, agent.label, final_text=final, edit_distance=distance)
        self.send(conv, final, author_kind=AuthorKind.BOT, style=Style.REPLY, author=agent, draft_id=draft.id)
        if conv.state == State.WAITING_HUMAN:
            conv = self._change(conv, state=State.BOT, handoff_reason=None)
        action = AuditAction.EDIT if status == DraftStatus.EDITED else AuditAction.APPROVE
        self.audit(agent, action, conversation_id=conv.id, draft_id=draft.id, edit_distance=distance,
                   **({"snippet": snippet} if snippet else {}))
        self.refresh_card(conv)
        return status

    def reject_draft(self, conv: Conversation, draft: Draft, agent: Actor, reason: str | None) -> Conversation:
        self.store.decide_draft(draft.id, DraftStatus.REJECTED, agent.label, reject_reason=reason)
        self.audit(agent, AuditAction.REJECT, conversation_id=conv.id, draft_id=draft.id, reason=reason)
        conv = self.hand_off(conv, Handoff.DRAFT_REJECTED, reason or "", actor=agent)
        self.refresh_card(conv)
        return conv

    def request_draft(self, conv: Conversation, message_id: int) -> int:
        """Queue a drafting job (the core's workers pick it up once its transaction commits, bot/jobs.py) and show
        the card as drafting."""
        draft_id = self.store.create_draft_job(conv.id, message_id)
        self.new_jobs.append(draft_id)
        self.refresh_card(conv)
        return draft_id

    def take_jobs(self) -> list[int]:
        """The drafting jobs created since the last call (the caller knows whether their transaction committed)."""
        jobs, self.new_jobs = self.new_jobs, []
        return jobs

    def auto_send(self, conv: Conversation, draft_id: int, text: str, confidence: float) -> None:
        self.store.decide_draft(draft_id, DraftStatus.AUTO_SENT, TANDEM, final_text=text, edit_distance=0)
        self.audit(TANDEM, AuditAction.AUTO_SEND, conversation_id=conv.id, draft_id=draft_id, confidence=confidence)
        self.send(conv, texts.automated(text, conv.language), style=Style.AUTOMATED, draft_id=draft_id)

    # ---- the bot's mode ------------------------------------------------------------------------------------
    def set_mode(self, mode: Mode, lead: Actor) -> Mode:
        """A lead's choice is stored, and wins over TANDEM_MODE after a restart."""
        previous, self.mode = self.mode, Mode(mode)
        self.store.set_setting("mode", self.mode.value)
        self.audit(lead, AuditAction.MODE, mode=self.mode, previous=previous)
        return previous

    def mode_origin(self) -> str:
        """Where the current mode comes from, for the start-up log and `mode` without an argument."""
        last = self.store.last_event(AuditAction.MODE)
        if self.store.setting("mode") == self.mode.value and last is not None:
            return f"set by {last['actor']} at {last['at'][:16].replace('T', ' ')} UTC"
        return "from TANDEM_MODE"


__all__ = ["ConversationService", "Role"]
