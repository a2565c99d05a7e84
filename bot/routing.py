"""On-duty routing and response-time alerts: the conversation service's transitions about who works on what.

Kept apart from bot/conversations.py so each file reads in one sitting; `ConversationService` inherits these
methods, so they are its transitions like any other (audit row, outbox rows and card refresh in the caller's
transaction). Who is on duty is stored (the `duty` table), with each agent's platform user id so Tandem can
mention them. A handoff goes to the next agent on duty of the conversation's platform and workspace
(TANDEM_ASSIGN: round_robin, the longest since their last assignment; least_busy, the fewest open
conversations, ties in round-robin order; manual, nobody). Response-time targets (bot/sla.py) start when a
customer starts waiting for a person and close when a reply goes out; their alerts go to the assignee, or to
everyone on duty when nobody is assigned.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime

from bot.sla import SlaClock, due_label
from bot.texts import duration
from vocab import TANDEM, Actor, AuditAction, Conversation, Mode, OutboxKind, Role, State
from vocab.times import iso

log = logging.getLogger(__name__)
_REF = re.compile(r"^<@!?([A-Za-z0-9_.-]+)(?:\|([^>]*))?>$")
WAITING = (State.WAITING_HUMAN, State.HUMAN)


def parse_ref(raw: str) -> tuple[str | None, str]:
    """(user id, name) of how a command names a person: a mention `<@U123>` or `<@U123|ana>` (Slack's escaped
    form; the Discord adapter passes members so), or a plain name or id, with or without a leading @."""
    raw = raw.strip()
    m = _REF.match(raw)
    if m:
        return m.group(1), (m.group(2) or "").strip()
    return None, raw.lstrip("@")


def in_scope(actor: Actor, platform: str, workspace: str) -> bool:
    """Whether `actor` may act on a conversation at (`platform`, `workspace`): the same platform, and the same workspace (Slack team, Discord guild)
    where both are known. Slack Connect customers write into our workspace's channels, so their conversations
    are ours; a conversation or agent with no workspace (the console, a Discord DM) is scoped by platform."""
    if actor.platform != platform:
        return False
    return not actor.workspace or not workspace or actor.workspace == workspace


class Routing:
    """The duty, routing and alert transitions of `ConversationService` (see the module doc)."""

    # ---- duty ----------------------------------------------------------------------------------------------
    def agent_named(self, by: Actor, ref: str | None) -> Actor:
        """The agent a command names, on `by`'s platform and workspace (`by` themself when `ref` is empty)."""
        if not ref or not ref.strip():
            return by
        user_id, name = parse_ref(ref)
        if user_id == by.user_id or (user_id is None and name in (by.user_id, by.label)):
            return by
        row = self.store.find_duty_agent(by.platform, by.workspace, user_id or name)
        if row is not None:
            return Actor(by.platform, row["user_id"], row["name"] or name, Role.AGENT, row["workspace"])
        return Actor(by.platform, user_id or name, name, Role.AGENT, by.workspace)

    def set_duty(self, agent: Actor, on: bool, by: Actor) -> list[int] | None:
        """Put `agent` on or off duty; None when they already were. Going off duty hands their open
        conversations to the others on duty, round robin; returns the ids handed on."""
        if not self.store.set_duty(agent.platform, agent.workspace, agent.user_id, agent.name, on, by.label):
            return None
        self.audit(by, AuditAction.DUTY, agent=agent.label, agent_id=agent.user_id, on=on)
        log.info("%s is %s duty (set by %s)", agent.label, "on" if on else "off", by.label)
        if on:
            return []
        moved = []
        for conversation_id in self.store.open_conversations_of(agent.platform, agent.user_id):
            conv = self.store.conversation(conversation_id)
            pick = self._pick(conv, "round_robin", exclude=agent.user_id)
            if pick is None:
                log.info("#%s stays with %s: nobody else is on duty", conv.id, agent.label)
                continue
            self._give(conv, pick, "round_robin", f"{agent.label} went off duty")
            moved.append(conv.id)
        return moved

    def on_duty(self, platform: str, workspace: str) -> list[dict]:
        """The agents on duty who may take conversations of (`platform`, `workspace`), in round-robin order."""
        return [r for r in self.store.duty_agents(platform)
                if in_scope(Actor(r["platform"], r["user_id"], workspace=r["workspace"]), platform, workspace)]

    # ---- routing -------------------------------------------------------------------------------------------
    def _pick(self, conv: Conversation, strategy: str, exclude: str | None = None) -> dict | None:
        rows = [r for r in self.on_duty(conv.platform, conv.workspace) if r["user_id"] != exclude]
        if not rows:
            return None
        return min(rows, key=lambda r: r["open"]) if strategy == "least_busy" else rows[0]

    def route(self, conv: Conversation) -> Conversation:
        """A handoff: assign the conversation to the next agent on duty (TANDEM_ASSIGN), and tell them."""
        strategy = self.settings.tandem_assign
        if strategy == "manual" or conv.assignee:
            return conv
        pick = self._pick(conv, strategy)
        if pick is None:
            log.info("#%s stays unassigned: nobody is on duty", conv.id, extra={"conversation_id": conv.id})
            return conv
        return self._give(conv, pick, strategy, "handed off")

    def _give(self, conv: Conversation, row: dict, strategy: str, why: str) -> Conversation:
        name = row["name"] or row["user_id"]
        previous = conv.assignee
        conv = self._change(conv, assignee=name, assignee_id=row["user_id"])
        self.store.mark_assigned(row["platform"], row["workspace"], row["user_id"])
        self.audit(TANDEM, AuditAction.ROUTE, conversation_id=conv.id, assignee=name, strategy=strategy, why=why,
                   previous=previous)
        self.tell_agents(conv, f"#{conv.id} ({conv.customer}) is assigned to you ({why}).",
                         ((row["user_id"], name),))
        self.refresh_card(conv)
        return conv

    def assignee_of(self, conv: Conversation, name: str, by: Actor) -> tuple[str, str | None]:
        """(label, user id) of the agent `assign` names: a known agent's id, so they can be mentioned."""
        agent = self.agent_named(Actor(conv.platform, by.user_id, by.name, by.role, conv.workspace), name)
        return agent.label, agent.user_id

    def tell_agents(self, conv: Conversation, text: str, mentions, *, key: str | None = None,
                    target_id: int | None = None) -> bool:
        """Queue a notice in the card's thread mentioning `mentions` ((user id, name) pairs); False when `key`
        was queued before."""
        payload = {"conversation_id": conv.id, "text": text, "mentions": [list(m) for m in mentions]}
        if target_id is not None:
            payload["target_id"] = target_id
        return self.store.enqueue_action(conv.platform, OutboxKind.NOTIFY_AGENTS, payload, conversation_id=conv.id,
                                         key=key) is not None

    # ---- response-time targets -----------------------------------------------------------------------------
    def card_reads(self) -> dict:
        """What a card may leave unread (bot/cards.py): a draft held back from an automatic send exists only in auto
        mode, a due time only when response targets are set."""
        s = self.settings
        return {"auto_threshold": s.tandem_auto_threshold if self.mode == Mode.AUTO else None,
                "targets": s.sla_targets}

    def sla_clock(self) -> SlaClock:
        """The clock targets count with; parsed once per value of its settings (every card asks for it)."""
        s = self.settings
        key = (s.tandem_sla_clock, s.tandem_support_hours, s.tandem_timezone)
        cached = getattr(self, "_sla_clock", None)
        if cached is None or cached[0] != key:
            cached = self._sla_clock = (key, SlaClock(None if s.tandem_sla_clock == "24x7" else s.support_hours))
        return cached[1]

    def expect_reply(self, conv: Conversation) -> None:
        """The customer waits for a reply: start its target, unless one is open or none is set. The first reply
        of a conversation is always awaited; a later one while a person owns it or is awaited (review mode:
        a person approves every reply)."""
        if not self.settings.sla_targets or self.store.open_target(conv.id) is not None:
            return
        first = conv.first_response_at is None and not self.store.has_targets(conv.id)
        seconds = self.settings.tandem_sla_first_response if first else self.settings.tandem_sla_next_response
        if not seconds or not (first or conv.state in WAITING or self.mode == Mode.REVIEW):
            return
        start = datetime.fromisoformat(conv.last_customer_at) if conv.last_customer_at else self.store.clock()
        clock, share = self.sla_clock(), self.settings.tandem_sla_warn_at
        self.store.start_target(conv.id, "first" if first else "next", iso(start), iso(clock.add(start, seconds * share)),
                                iso(clock.add(start, seconds)))

    def reply_out(self, conv: Conversation, *, answered: bool = True) -> None:
        """A reply went to the customer (or, `answered` False, nobody is awaited any more): close the target."""
        target = self.store.open_target(conv.id)
        if target is None:
            return
        past = self.sla_clock().between(datetime.fromisoformat(target["due_at"]), self.store.clock())
        self.store.close_target(target["id"], answered=answered, past_s=past if past > 0 else None)

    def due(self, conv: Conversation) -> str | None:
        """The card's and the queue's words for the conversation's due time, or None."""
        target = self.store.open_target(conv.id)
        return due_label(self.sla_clock(), target["due_at"], self.store.clock()) if target else None

    def sla_alert(self, target: dict) -> int:
        """A target's warning or due time passed: alert the assignee (or everyone on duty) once. Returns 1 when
        an alert was queued."""
        conv = self.store.conversation(target["conversation_id"])
        level = "breach" if target["due_at"] <= self.store.now() else "warning"
        self.store.mark_target_alerted(target["id"], level, conv.assignee)
        if conv.assignee:
            known = None if conv.assignee_id else self.store.find_duty_agent(conv.platform, conv.workspace,
                                                                             conv.assignee)
            mentions = [(conv.assignee_id or (known["user_id"] if known else ""), conv.assignee)]
        else:
            mentions = [(r["user_id"], r["name"] or r["user_id"]) for r in self.on_duty(conv.platform, conv.workspace)]
        seconds = self.settings.tandem_sla_first_response if target["kind"] == "first" else \
            self.settings.tandem_sla_next_response
        icon = "🚨" if level == "breach" else "⏰"
        text = (f"{icon} #{conv.id} ({conv.customer}): {self.due(conv)} "
                f"(target: {target['kind']} reply within {duration(seconds)}).")
        if not mentions:
            text += " Nobody is on duty: `duty on` to take it."
        queued = self.tell_agents(conv, text, mentions, key=f"sla:{target['id']}:{level}", target_id=target["id"])
        self.audit(TANDEM, AuditAction.SLA_BREACH if level == "breach" else AuditAction.SLA_WARNING,
                   conversation_id=conv.id, kind=target["kind"], due_at=target["due_at"], assignee=conv.assignee,
                   notified=[m[1] for m in mentions])
        self.refresh_card(conv)
        return int(queued)
