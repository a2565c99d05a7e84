"""The conversation rules: what a customer message, an agent's message or a finished draft should cause.

The rules decide; the conversation service (bot/conversations.py) carries each transition out.

States: bot (drafting) -> waiting_human (handed off, with a reason) -> human (owned by an agent) ->
resolved. The guarantees, each tested:
- in waiting_human and human the bot neither drafts nor sends; only an explicit hand-back returns it;
- a conversation has at most one open draft; a new customer message supersedes it;
- every handoff is announced to the customer (see `ConversationService.hand_off`);
- a customer writing into a resolved conversation reopens it by one fixed rule: if a person had handled
  it, it goes back to that person (waiting_human, reason reopened), otherwise to the bot. No ping-pong;
- a draft goes out on its own only in auto mode and only on more than the model's word (see `judge`):
  otherwise it waits for review, and the audit row says why.
"""
from __future__ import annotations

import dataclasses
import logging
import re
from datetime import datetime
from typing import NamedTuple

from bot import handoff as signals
from bot import risk
from bot.conversations import ConversationService
from bot.drafting.base import DraftResult
from bot.ports import Store
from bot.safety import OutboundPolicy
from bot.texts import clean_text
from vocab import TANDEM, AuditAction, AuthorKind, Conversation, DraftStatus, Handoff, InboundMessage, Mode, Role, State

log = logging.getLogger(__name__)

HISTORY_CHECKED = 8  # customer messages checked for injection before an automatic send (the LLM sees as many)
_RATING = re.compile(r"^\s*([1-5])\s*[.!]?\s*$")  # a rating is one digit from 1 to 5, and nothing else
_NUMBER_WORDS = ("zero|one|two|three|four|five|six|seven|eight|nine|ten|"
                 "nol|satu|dua|tiga|empat|lima|enam|tujuh|delapan|sembilan|sepuluh")
# what reads as a try at rating that is not one: another number (0, 7, 4.5, -1), a score (10/10, 4 out of 5),
# a number or number word with stars or points ("5 stars", "lima bintang"), or a row of star emoji
_ATTEMPT = re.compile(
    rf"^\s*(?:[-+]?\d{{1,3}}(?:[.,]\d+)?|{_NUMBER_WORDS})\s*"
    r"(?:(?:/|out of|dari)\s*\d{1,3})?\s*(?:stars?|bintang|points?|poin|nilai)?\s*[.!]*\s*$"
    r"|^\s*[⭐★☆]+\s*$",
    re.IGNORECASE)


def parse_rating(text: str) -> int | None:
    """The rating a customer gave after the resolve prompt: only a lone 1 to 5 counts."""
    m = _RATING.match(text)
    return int(m.group(1)) if m else None


def looks_like_rating_attempt(text: str) -> bool:
    """A message after the rating prompt that tries to rate but is not 1-5: the customer is told how."""
    return parse_rating(text) is None and bool(_ATTEMPT.match(text.replace("\ufe0f", "")))


class Verdict(NamedTuple):
    """What happens to a finished draft, and why it waits for a person when it could have gone out alone."""

    decision: str  # "handoff", "auto_send" or "review"
    reason: Handoff | None = None  # the handoff's reason
    held: tuple[str, ...] = ()  # why an automatic send was refused (empty unless it was)


def hold_reasons(result: DraftResult, question: str, auto_threshold: float,
                 policy: OutboundPolicy | None = None) -> tuple[str, ...]:
    """Why a draft the model is sure of must still wait for review: the checks that do not take its word."""
    why = []
    if result.unwritten:
        why.append("rests on an article with no written answer yet: " + ", ".join(result.unwritten))
    if result.unreviewed:
        why.append("rests on a taught article a lead has not approved yet (`kb approve "
                   + ", ".join(result.unreviewed) + "`)")
    if result.grounding_confidence < auto_threshold:
        why.append(f"the retrieval's confidence in its best article is {result.grounding_confidence:.2f}, "
                   f"under TANDEM_AUTO_THRESHOLD {auto_threshold:.2f}")
    if (sign := risk.injection(question)) is not None:
        why.append(f"the customer's message looks like an attempt to steer the bot ({sign!r})")
    if promises := risk.commitments(result.text, result.grounding):
        why.append("the draft promises what no article says: " + ", ".join(promises[:5]))
    if policy is not None and (removed := policy.clean(result.text).removed):
        why.append("the draft needed cleaning: " + "; ".join(dict.fromkeys(removed)))
    return tuple(why)


def judge(result: DraftResult, mode: Mode, handoff_threshold: float, auto_threshold: float, *,
          question: str = "", policy: OutboundPolicy | None = None) -> Verdict:
    """What happens to a finished draft: a handoff (with its reason), an automatic send, or a review.

    An automatic send needs more than the model's confidence: the retrieval itself must rate the article the
    draft rests on above the auto threshold, that article must have a written answer, the customer's message
    must not look like an injection, and the draft must promise nothing its articles do not (see
    `hold_reasons`); otherwise the draft waits for review, with the reasons."""
    if result.needs_human:
        reason = result.reason if result.reason in Handoff._value2member_map_ else Handoff.SENSITIVE_TOPIC
        return Verdict("handoff", Handoff(reason))
    if not result.text.strip() or result.confidence < handoff_threshold:
        return Verdict("handoff", Handoff.LOW_CONFIDENCE)
    if mode == Mode.OFF:
        return Verdict("handoff", Handoff.BOT_OFF)
    if mode == Mode.AUTO and result.confidence >= auto_threshold:
        held = hold_reasons(result, question, auto_threshold, policy)
        return Verdict("review", None, held) if held else Verdict("auto_send")
    return Verdict("review")


class ConversationRules:
    def __init__(self, service: ConversationService, store: Store, drafter_name: str = "drafter"):
        self.service = service
        self.store = store
        self.drafter_name = drafter_name

    # ---- inbound -----------------------------------------------------------------------------------------
    def apply(self, event: InboundMessage, inbox_id: int) -> None:
        if event.kind in ("edit", "delete"):
            self._edit_or_delete(event)
            return
        if event.kind == "ticket":
            self._ticket(event, inbox_id)
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
        opened = conv is None
        if conv is None:
            conv = self.service.open(event.address, event.author, signals.detect_language(text))
        message_id = self.store.append_message(
            conv.id, AuthorKind.CUSTOMER, text, event.address.platform,
            author_id=event.author.user_id, author_name=event.author.name,
            platform_message_id=event.message_id or None, inbox_id=inbox_id, attachments=event.attachments,
        )
        if opened:
            self.service.react(conv, self.service.settings.tandem_reaction_seen)
        conv = self.service.customer_wrote(conv, signals.detect_language(text) if text else conv.language)
        self._customer_message(conv, text, event.attachments, message_id)

    def _ticket(self, event: InboundMessage, inbox_id: int) -> None:
        """An agent reacted with the ticket emoji to a message in any channel: that message opens a conversation
        with its author as the customer, as if written in a support channel. Anyone else's reaction, or one on a
        message Tandem already has, does nothing."""
        by, platform = event.by, event.address.platform
        if by is None or by.role < Role.AGENT:
            log.info("ticket reaction on %s message %s by %s ignored: not an agent", platform, event.message_id,
                     by.user_id if by else "nobody")
            return
        if not event.message_id or self.store.message_by_platform_id(platform, event.message_id) is not None:
            log.info("ticket reaction on %s message %s ignored: the message is known", platform, event.message_id)
            return
        customer = dataclasses.replace(event.author, role=Role.CUSTOMER)
        log.info("%s opened a ticket from %s message %s by %s", by.label, platform, event.message_id,
                 customer.label)
        self.apply(dataclasses.replace(event, author=customer, kind="message", by=None), inbox_id)
        opened = self.store.message_by_platform_id(platform, event.message_id)
        self.service.audit(by, AuditAction.TICKET, conversation_id=opened["conversation_id"] if opened else None,
                           message=event.message_id, customer=customer.label)

    def _customer_message(self, conv: Conversation, text: str, attachments: int, message_id: int) -> None:
        service = self.service
        if conv.state != State.BOT:
            service.refresh_card(conv)  # a person is on it: show them the new message, stay silent
            return
        previous = self.store.recent_customer_texts(conv.id, limit=4)[1:]
        if not text and attachments:
            service.hand_off(conv, Handoff.ATTACHMENT, f"{attachments} file(s) without text")
        elif not text:
            service.audit(TANDEM, AuditAction.EMPTY_MESSAGE, conversation_id=conv.id)
            service.notify(conv, "empty")
        elif signals.asks_for_human(text):
            service.hand_off(conv, Handoff.ASKED_FOR_HUMAN, text[:200])
        elif (why := signals.frustration(text, previous)) is not None:
            service.hand_off(conv, Handoff.FRUSTRATION, why)
        elif service.mode == Mode.OFF:
            service.hand_off(conv, Handoff.BOT_OFF)
        else:
            service.request_draft(conv, message_id)

    def _resolved(self, conv: Conversation, event: InboundMessage, text: str) -> tuple[Conversation | None, bool]:
        """A customer wrote into a resolved conversation: a rating or a try at one (True), a reopen, or (too late)
        None: a new conversation. Anything but a lone 1-5 or a try at rating is a new customer message."""
        rating = parse_rating(text) if conv.awaiting_rating else None
        if rating is not None:
            self.store.append_message(
                conv.id, AuthorKind.CUSTOMER, text, event.address.platform, author_id=event.author.user_id,
                author_name=event.author.name, platform_message_id=event.message_id or None,
            )
            return self.service.rate(conv, rating, event.author), True
        if conv.awaiting_rating and looks_like_rating_attempt(text):
            message_id = self.store.append_message(
                conv.id, AuthorKind.CUSTOMER, text, event.address.platform, author_id=event.author.user_id,
                author_name=event.author.name, platform_message_id=event.message_id or None,
            )
            self.service.rating_retry(conv, text, event.author, message_id)
            return conv, True
        resolved_at = datetime.fromisoformat(conv.resolved_at) if conv.resolved_at else self.store.clock()
        if self.store.clock() - resolved_at > self.service.reopen_window():
            return None, False
        return self.service.reopen(conv), False

    def _agent_message(self, conv: Conversation, event: InboundMessage, text: str, inbox_id: int) -> None:
        """An agent wrote straight into the customer's conversation: log it; it is a takeover if not one yet."""
        self.store.append_message(
            conv.id, AuthorKind.AGENT, text, event.address.platform, author_id=event.author.user_id,
            author_name=event.author.name, platform_message_id=event.message_id or None, inbox_id=inbox_id,
            attachments=event.attachments,
        )
        self.service.agent_wrote(conv, event.author)

    def _edit_or_delete(self, event: InboundMessage) -> None:
        message = self.store.message_by_platform_id(event.address.platform, event.message_id)
        if message is None:
            log.info("%s of unknown %s message %s ignored", event.kind, event.address.platform, event.message_id)
            return
        # platforms do not always say who deleted a message; the log then names its author
        who = event.author.user_id if event.author.user_id not in ("", "unknown") else message["author_id"]
        if event.kind == "edit":
            self.store.log_event(who, AuditAction.MESSAGE_EDITED, conversation_id=message["conversation_id"],
                                 message_id=message["id"], before=message["text"], after=event.text)
            self.store.mark_message_edited(message["id"], event.text)
        else:
            self.store.log_event(who, AuditAction.MESSAGE_DELETED, conversation_id=message["conversation_id"],
                                 message_id=message["id"], text=message["text"])
            self.store.mark_message_deleted(message["id"])

    # ---- drafts ------------------------------------------------------------------------------------------
    def apply_draft(self, draft_id: int, result: DraftResult | None, error: str, latency_ms: float) -> None:
        service, store = self.service, self.store
        job = store.draft_job(draft_id)  # the job and its conversation, one read
        if job is None or job.status != DraftStatus.DRAFTING:
            return  # superseded while drafting: a newer message has its own job
        conv = job.conversation
        if result is None:
            store.complete_draft(draft_id, status=DraftStatus.FAILED, text=None, sources=[], confidence=None,
                                 drafter=self.drafter_name, model=None, latency_ms=latency_ms,
                                 handoff_reason=Handoff.DRAFTER_ERROR)
            log.warning("draft d%s failed: %s", draft_id, error, extra={"conversation_id": conv.id})
            if conv.state == State.BOT:
                service.hand_off(conv, Handoff.DRAFTER_ERROR, error[:300])
            return
        common = dict(text=result.text, sources=[s.__dict__ for s in result.sources], confidence=result.confidence,
                      drafter=result.drafter or self.drafter_name, model=result.model, latency_ms=latency_ms,
                      language=result.language)
        if conv.state != State.BOT:
            store.complete_draft(draft_id, status=DraftStatus.SUPERSEDED, **common)
            service.audit(TANDEM, AuditAction.DRAFT_SUPERSEDED, conversation_id=conv.id, draft_id=draft_id,
                          why=f"conversation is {conv.state}")
            return
        # what the model read of the customer: this message and the earlier ones it was given as history (only an
        # automatic send looks at it, so it is read only when one is possible)
        said = "\n".join(reversed(store.recent_customer_texts(conv.id, limit=HISTORY_CHECKED))) \
            if service.mode == Mode.AUTO else ""
        decision, reason, held = judge(result, service.mode, service.settings.tandem_handoff_threshold,
                                       service.settings.tandem_auto_threshold, question=said, policy=service.policy)
        if decision == "handoff":
            status = DraftStatus.PENDING if result.text.strip() else DraftStatus.FAILED
            store.complete_draft(draft_id, status=status, handoff_reason=reason, **common)
            service.hand_off(conv, reason, f"confidence {result.confidence:.2f}")
            return
        if decision == "auto_send":
            store.complete_draft(draft_id, status=DraftStatus.AUTO_SENT, **common)
            service.auto_send(conv, draft_id, result.text, result.confidence)
        else:
            store.complete_draft(draft_id, status=DraftStatus.PENDING, **common)
            extra = {"held": list(held)} if held else {}
            service.audit(TANDEM, AuditAction.DRAFT_READY, conversation_id=conv.id, draft_id=draft_id,
                          confidence=result.confidence, **extra)
            if held:
                log.warning("draft d%s for conversation #%s waits for review instead of the automatic send: %s",
                            draft_id, conv.id, "; ".join(held), extra={"conversation_id": conv.id})
        service.refresh_card(conv)
