"""The conversation state machine: what a customer message or a finished draft does to a conversation.

States: bot (drafting) -> waiting_human (handed off, with a reason) -> human (owned by an agent) ->
resolved. The guarantees, each tested:
- in waiting_human and human the bot neither drafts nor sends; only an explicit hand-back returns it;
- a conversation has at most one open draft; a new customer message supersedes it;
- every handoff is announced to the customer (see `Core.handoff`);
- a customer writing into a resolved conversation reopens it by one fixed rule: if a person had handled
  it, it goes back to that person (waiting_human, reason reopened), otherwise to the bot. No ping-pong.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import TYPE_CHECKING

from bot import handoff as signals
from bot import texts
from bot.drafting.base import DraftResult
from vocab import DraftStatus, Handoff, InboundMessage, Mode, Role, State
from vocab import Conversation

if TYPE_CHECKING:
    from bot.core import Core

log = logging.getLogger(__name__)

_RATING = re.compile(r"^\s*([1-5])\s*(?:/\s*5)?\s*(?:stars?|bintang)?\s*[.!]?\s*$", re.IGNORECASE)


def parse_rating(text: str) -> int | None:
    m = _RATING.match(text)
    if m:
        return int(m.group(1))
    stars = text.strip().replace("\ufe0f", "")
    if stars and set(stars) <= {"⭐", "★"} and len(stars) <= 5:
        return len(stars)
    return None


def judge(result: DraftResult, mode: Mode, handoff_threshold: float, auto_threshold: float
          ) -> tuple[str, Handoff | None]:
    """What happens to a finished draft: ("handoff", reason), ("auto_send", None) or ("review", None)."""
    if result.needs_human:
        reason = result.reason if result.reason in Handoff._value2member_map_ else Handoff.SENSITIVE_TOPIC
        return "handoff", Handoff(reason)
    if not result.text.strip() or result.confidence < handoff_threshold:
        return "handoff", Handoff.LOW_CONFIDENCE
    if mode == Mode.OFF:
        return "handoff", Handoff.BOT_OFF
    if mode == Mode.AUTO and result.confidence >= auto_threshold:
        return "auto_send", None
    return "review", None


class ConversationRules:
    def __init__(self, core: "Core"):
        self.core = core
        self.store = core.store

    # ---- inbound -----------------------------------------------------------------------------------------
    def apply(self, event: InboundMessage, inbox_id: int) -> None:
        from bot.core import clean_text

        if event.kind in ("edit", "delete"):
            self._edit_or_delete(event)
            return
        text = clean_text(event.text)
        conv = self.store.latest_conversation_at(event.address)
        if event.author.role >= Role.AGENT and conv is not None and conv.customer_id != event.author.user_id:
            self._agent_message(conv, event, text, inbox_id)
            return
        if conv is not None and conv.state == State.RESOLVED:
            conv, rated = self._resolved(conv, event, text)
            if rated:
                return
        if conv is None:
            conv = self.store.open_conversation(
                event.address, event.author.user_id, event.author.name, signals.detect_language(text)
            )
            self.store.log_event(event.author.user_id, "open", actor_role="customer", conversation_id=conv.id)
        message_id = self.store.append_message(
            conv.id, "customer", text, event.address.platform,
            author_id=event.author.user_id, author_name=event.author.name,
            platform_message_id=event.message_id or None, inbox_id=inbox_id, attachments=event.attachments,
        )
        language = signals.detect_language(text) if text else conv.language
        conv = self.store.update_conversation(conv.id, last_customer_at=self.store.now(), language=language)
        superseded = self.store.supersede_open_drafts(conv.id, by="customer_message")
        for draft_id in superseded:
            self.store.log_event("tandem", "draft_superseded", conversation_id=conv.id, draft_id=draft_id)
        self._customer_message(conv, text, event.attachments, message_id)

    def _customer_message(self, conv: Conversation, text: str, attachments: int, message_id: int) -> None:
        core = self.core
        if conv.state != State.BOT:
            core.touch_card(conv)  # a person is on it: show them the new message, stay silent
            return
        previous = self.store.recent_customer_texts(conv.id, limit=4)[1:]
        if not text and attachments:
            core.handoff(conv, Handoff.ATTACHMENT, f"{attachments} file(s) without text")
        elif not text:
            self.store.log_event("tandem", "empty_message", conversation_id=conv.id)
            core.send(conv, texts.say("empty", conv.language), author_kind="system", style="system")
        elif signals.asks_for_human(text):
            core.handoff(conv, Handoff.ASKED_FOR_HUMAN, text[:200])
        elif (why := signals.frustration(text, previous)) is not None:
            core.handoff(conv, Handoff.FRUSTRATION, why)
        elif core.mode == Mode.OFF:
            core.handoff(conv, Handoff.BOT_OFF)
        else:
            core.request_draft(conv, message_id)
            core.touch_card(conv)

    def _resolved(self, conv: Conversation, event: InboundMessage, text: str) -> tuple[Conversation | None, bool]:
        """A customer wrote into a resolved conversation: a rating (True), a reopen, or (too late) None: new one."""
        rating = parse_rating(text) if conv.awaiting_rating else None
        if rating is not None:
            self.store.append_message(
                conv.id, "customer", text, event.address.platform, author_id=event.author.user_id,
                author_name=event.author.name, platform_message_id=event.message_id or None,
            )
            self.store.add_rating(conv.id, rating, event.author.user_id)
            conv = self.store.update_conversation(conv.id, awaiting_rating=0)
            self.store.log_event(event.author.user_id, "rating", actor_role="customer", conversation_id=conv.id,
                                 rating=rating)
            self.core.send(conv, texts.say("rating.thanks", conv.language, rating=rating), author_kind="system",
                           style="system")
            self.core.touch_card(conv)
            return conv, True
        resolved_at = datetime.fromisoformat(conv.resolved_at) if conv.resolved_at else self.store.clock()
        if self.store.clock() - resolved_at > self.core.reopen_window():
            return None, False
        if conv.human_involved and conv.assignee:
            conv = self.store.update_conversation(
                conv.id, state=State.WAITING_HUMAN.value, handoff_reason=Handoff.REOPENED.value,
                handoff_at=self.store.now(), resolved_at=None, awaiting_rating=0,
                reopened_count=conv.reopened_count + 1,
            )
            self.store.log_event("tandem", "reopen", conversation_id=conv.id, to="human", assignee=conv.assignee)
            self.store.log_event("tandem", "handoff", conversation_id=conv.id, reason=Handoff.REOPENED.value,
                                 detail=f"back to {conv.assignee}")
            self.core.send(conv, texts.say("reopened.human", conv.language, agent=conv.assignee),
                           author_kind="system", style="system")
        else:
            conv = self.store.update_conversation(
                conv.id, state=State.BOT.value, handoff_reason=None, resolved_at=None, awaiting_rating=0,
                reopened_count=conv.reopened_count + 1,
            )
            self.store.log_event("tandem", "reopen", conversation_id=conv.id, to="bot")
        return conv, False

    def _agent_message(self, conv: Conversation, event: InboundMessage, text: str, inbox_id: int) -> None:
        """An agent wrote straight into the customer's conversation: log it; it is a takeover if not one yet."""
        self.store.append_message(
            conv.id, "agent", text, event.address.platform, author_id=event.author.user_id,
            author_name=event.author.name, platform_message_id=event.message_id or None, inbox_id=inbox_id,
            attachments=event.attachments,
        )
        changes: dict = {"human_involved": 1}
        if conv.first_response_at is None:
            changes["first_response_at"] = self.store.now()
        if conv.state != State.HUMAN or conv.assignee != event.author.label:
            changes.update(state=State.HUMAN.value, assignee=event.author.label, handoff_reason=None)
            for draft_id in self.store.supersede_open_drafts(conv.id, by=event.author.label):
                self.store.log_event(event.author.label, "draft_superseded", conversation_id=conv.id,
                                     draft_id=draft_id)
            self.store.log_event(event.author.label, "takeover", actor_role=event.author.role.name.lower(),
                                 conversation_id=conv.id, via="message")
        conv = self.store.update_conversation(conv.id, **changes)
        self.core.touch_card(conv)

    def _edit_or_delete(self, event: InboundMessage) -> None:
        message = self.store.message_by_platform_id(event.address.platform, event.message_id)
        if message is None:
            log.info("%s of unknown %s message %s ignored", event.kind, event.address.platform, event.message_id)
            return
        # platforms do not always say who deleted a message; the log then names its author
        who = event.author.user_id if event.author.user_id not in ("", "unknown") else message["author_id"]
        if event.kind == "edit":
            self.store.log_event(who, "message_edited", conversation_id=message["conversation_id"],
                                 message_id=message["id"], before=message["text"], after=event.text)
            self.store.mark_message_edited(message["id"], event.text)
        else:
            self.store.log_event(who, "message_deleted", conversation_id=message["conversation_id"],
                                 message_id=message["id"], text=message["text"])
            self.store.mark_message_deleted(message["id"])

    # ---- drafts ------------------------------------------------------------------------------------------
    def apply_draft(self, draft_id: int, result: DraftResult | None, error: str, latency_ms: float) -> None:
        core, store = self.core, self.store
        draft = store.draft(draft_id)
        if draft is None or draft.status != DraftStatus.DRAFTING:
            return  # superseded while drafting: a newer message has its own job
        conv = store.conversation(draft.conversation_id)
        drafter = getattr(core.drafter, "name", "drafter")
        if result is None:
            store.complete_draft(draft_id, status=DraftStatus.FAILED.value, text=None, sources=[], confidence=None,
                                 drafter=drafter, model=None, latency_ms=latency_ms,
                                 handoff_reason=Handoff.DRAFTER_ERROR.value)
            log.warning("draft #%s failed: %s", draft_id, error)
            if conv.state == State.BOT:
                core.handoff(conv, Handoff.DRAFTER_ERROR, error[:300])
            return
        common = dict(text=result.text, sources=[s.__dict__ for s in result.sources], confidence=result.confidence,
                      drafter=result.drafter or drafter, model=result.model, latency_ms=latency_ms)
        if conv.state != State.BOT:
            store.complete_draft(draft_id, status=DraftStatus.SUPERSEDED.value, **common)
            store.log_event("tandem", "draft_superseded", conversation_id=conv.id, draft_id=draft_id,
                            why=f"conversation is {conv.state}")
            return
        decision, reason = judge(result, core.mode, core.settings.tandem_handoff_threshold,
                                 core.settings.tandem_auto_threshold)
        if decision == "handoff":
            status = DraftStatus.PENDING if result.text.strip() else DraftStatus.FAILED
            store.complete_draft(draft_id, status=status.value, handoff_reason=reason.value, **common)
            core.handoff(conv, reason, f"confidence {result.confidence:.2f}")
            return
        if decision == "auto_send":
            store.complete_draft(draft_id, status=DraftStatus.AUTO_SENT.value, **common)
            store.decide_draft(draft_id, DraftStatus.AUTO_SENT.value, "tandem", final_text=result.text, edit_distance=0)
            store.log_event("tandem", "auto_send", conversation_id=conv.id, draft_id=draft_id,
                            confidence=result.confidence)
            core.send(conv, texts.automated(result.text, conv.language), style="automated", draft_id=draft_id)
        else:
            store.complete_draft(draft_id, status=DraftStatus.PENDING.value, **common)
            store.log_event("tandem", "draft_ready", conversation_id=conv.id, draft_id=draft_id,
                            confidence=result.confidence)
        core.touch_card(conv)
