"""The outbox dispatcher: delivers persisted outbound actions through the adapters, with retries.

Every reply, notice and card update is written to the `outbox` table before any platform call. This task
sends due rows in order, marks them sent when the platform confirms, and on failure schedules a retry with
exponential backoff (honouring Retry-After). A conversation whose message failed is held back in that
pass so its messages never arrive out of order. Nothing is dropped: a hopeless failure is marked `failed`,
logged as an audit event and shown in `queue`.

Exactly once where the platform allows it: each action carries its row's key (`delivery_key`), which adapters
hand to the platform (a Discord nonce, Slack message metadata). A row is marked `sending` before the platform
call; a row found still `sending` was in flight when a process died (or timed out unanswered), and before it
is sent again an adapter that can look (`FindsDelivered`) is asked whether the platform has it already. Within
a pass, the transaction that marks a row sent also builds the next row's action and marks it `sending` (one
commit per row instead of two); a pass that stops before trying that row puts it back to `pending`.
This module alone decides a row's delivery state; adapters only pass the key on and look when asked.
"""
from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.ackfirst import AckFirst
from bot.cards import build_card
from bot.conversations import ConversationService
from bot.ports import Adapter, Store
from vocab import (
    Address,
    AuditAction,
    AuthorKind,
    ConversationChange,
    Delivery,
    DeliveryError,
    NotifyAgents,
    OutboxKind,
    PartsSent,
    PostReport,
    React,
    SendMessage,
    UpsertCard,
)
from vocab.times import iso

log = logging.getLogger(__name__)

SEND_TIMEOUT = 30.0
MAX_BACKOFF = 600.0
IDLE_POLL = 5.0
BATCH = 50  # rows read per look at the outbox
COULD_NOT_LOOK = Delivery(ref="?could-not-look")
UNPREPARED = object()  # `_deliver` builds and marks the row itself


@dataclasses.dataclass(frozen=True)
class Ready:
    """A row of the pass built, and marked `sending` if `marked`, in the transaction that marked the row before it
    sent; `action` None: a stale alert, dropped there."""
    row_id: int
    action: object
    marked: bool


def backoff_seconds(attempts: int) -> float:
    return min(MAX_BACKOFF, 2.0 ** max(0, attempts))


def delivery_key(row: dict) -> str:
    """The row's key on the platform: its id, and a hash of when it was made so that a new database whose ids
    start again at 1 never matches an old message (t<id>.<6 hex>, at most 22 characters)."""
    stamp = hashlib.sha1(str(row.get("created_at", "")).encode()).hexdigest()[:6]
    return f"t{row['id']}.{stamp}"


def about(row: dict) -> dict:
    """The log record's `extra` for an outbox row: its conversation, for the JSON log (TANDEM_LOG_FORMAT)."""
    return {"conversation_id": row["conversation_id"]} if row.get("conversation_id") else {}


class Dispatcher:
    def __init__(self, store: Store, adapters: Mapping[str, Adapter], conversations: ConversationService,
                 gate: AckFirst | None = None):
        self.store = store
        self.gate = gate or AckFirst()  # deliveries give way while a platform request is answered
        self.adapters = adapters  # the core's registry: adapters registered later are seen too
        self.conversations = conversations
        self._wake = asyncio.Event()
        self._sending = False

    def wake(self) -> None:
        self._wake.set()

    def has_due_work(self) -> bool:
        if self._sending or self._wake.is_set():
            return True
        return any(row["platform"] in self.adapters for row in self.store.due_actions(limit=20))

    async def run(self) -> None:
        while True:
            if not self._wake.is_set():  # woken already (the usual case under load): no need to look for a due time
                try:  # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
                    async with asyncio.timeout(self._seconds_to_next()):
                        await self._wake.wait()
                except TimeoutError:
                    pass
            self._wake.clear()
            self._sending = True
            try:
                await self.flush()
            except Exception:
                log.exception("outbox pass failed; will retry")
            finally:
                self._sending = False

    def _seconds_to_next(self) -> float:
        due = self.store.next_action_due_at()
        if due is None:
            return IDLE_POLL  # another process (`tandem digest --post`) may add rows without waking us
        delta = (datetime.fromisoformat(due) - self.store.clock()).total_seconds()
        return min(IDLE_POLL, max(0.05, delta))

    async def flush(self) -> None:
        """Deliver everything due now, once each."""
        held: set[int] = set()
        while True:
            due = self.store.due_actions(limit=BATCH)
            rows = [r for r in due if r["platform"] in self.adapters and r["conversation_id"] not in held]
            if not rows:
                return
            unblocked = False  # a message sent lets the next one to its conversation go (`due_actions` held it back)
            ready: Ready | None = None  # the next row, prepared in the transaction that marked this one sent
            try:
                for i, row in enumerate(rows):
                    if row["conversation_id"] in held:
                        continue
                    await self.gate.turn()
                    prepared = UNPREPARED
                    if ready is not None:
                        if ready.row_id == row["id"]:
                            prepared = ready.action
                        elif ready.marked:
                            self.store.unmark_action_sending(ready.row_id)
                        ready = None
                    following = next((r for r in rows[i + 1:] if r["conversation_id"] not in held), None)
                    delivered, ready = await self._deliver(row, prepared, following)
                    if not delivered:
                        if row["conversation_id"] is not None:
                            held.add(row["conversation_id"])
                    elif row["kind"] == OutboxKind.SEND_MESSAGE:
                        unblocked = True
            finally:
                if ready is not None and ready.marked:  # the pass stopped before trying it: nothing is in flight
                    self.store.unmark_action_sending(ready.row_id)
            # a short batch was everything due: look again only if a sent message let another through (rows queued
            # meanwhile woke the dispatcher, which comes back here)
            if len(due) < BATCH and not unblocked:
                return

    def _action(self, row: dict):
        """The row's action as the adapter receives it: every text cleaned by the outbound policy (bot/safety.py),
        carrying the row's delivery key."""
        return dataclasses.replace(self.conversations.policy.action(self._raw_action(row)), key=delivery_key(row))

    def _raw_action(self, row: dict):
        payload = json.loads(row["payload"])
        if row["kind"] == OutboxKind.SEND_MESSAGE:
            return SendMessage(Address(**payload["address"]), payload["text"], payload.get("style", "reply"),
                               parts=PartsSent(payload.get("parts_done", 0), payload.get("first_ref", "")))
        if row["kind"] == OutboxKind.UPSERT_CARD:
            conv = self.store.conversation(payload["conversation_id"])
            return UpsertCard(build_card(self.store, conv, self.conversations.snippets, self.conversations.sla_clock(),
                                         **self.conversations.card_reads()),
                              conv.card_ref, conv.card_channel)
        if row["kind"] == OutboxKind.POST_REPORT:
            report = dict(payload)
            report["fields"] = tuple(tuple(f) for f in report.get("fields", ()))
            report["sections"] = tuple(tuple(s) for s in report.get("sections", ()))
            return PostReport(**report)
        if row["kind"] == OutboxKind.NOTIFY_AGENTS:  # in the card's thread as it is now (posted since, maybe)
            conv = self.store.conversation(payload["conversation_id"])
            return NotifyAgents(conv.id, payload["text"], tuple(tuple(m) for m in payload.get("mentions", ())),
                                conv.card_channel or "", conv.card_ref or "")
        if row["kind"] == OutboxKind.REACT:
            return React(payload["channel"], payload["message_ref"], payload["emoji"], payload.get("remove", False))
        raise ValueError(f"unknown outbox action kind {row['kind']!r}")

    def _stale(self, row: dict) -> bool:
        """A response-time alert whose wait ended (the reply went out) before it could be sent: drop it."""
        if row["kind"] != OutboxKind.NOTIFY_AGENTS:
            return False
        target_id = json.loads(row["payload"]).get("target_id")
        target = self.store.target(target_id) if target_id is not None else None
        if target is None or target["closed_at"] is None:
            return False
        why = f"the reply went out at {target['answered_at']}" if target["answered_at"] else "nobody waits any more"
        with self.store.atomic():
            self.store.mark_action_dropped(row["id"], why)
            self.store.log_event("tandem", AuditAction.SLA_ALERT_DROPPED, conversation_id=row["conversation_id"],
                                 outbox_id=row["id"], target_id=target_id, why=why)
        log.info("outbox #%s: response-time alert for #%s dropped, no longer true (%s)", row["id"],
                 row["conversation_id"], why, extra=about(row))
        return True

    def _prepare(self, row: dict):
        """Inside a transaction: the row's action, read and built, and for a row not in flight already its `sending`
        mark, committed before the platform is called; None for a stale alert (dropped)."""
        if self._stale(row):
            return None
        action = self._action(row)
        if row["status"] != "sending":
            self.store.mark_action_sending(row["id"])
        return action

    def _prepare_following(self, row: dict | None) -> Ready | None:
        """The next row of the pass, prepared in the transaction that marks this one sent (one commit for both); a
        row that cannot be built now is left to its own turn, which handles the error."""
        if row is None:
            return None
        try:
            return Ready(row["id"], self._prepare(row), row["status"] != "sending")
        except Exception:  # noqa: BLE001 - nothing of it was written (the `sending` mark comes last)
            return None

    async def _deliver(self, row: dict, prepared=UNPREPARED,
                       following: dict | None = None) -> tuple[bool, Ready | None]:
        """Deliver one row: (False if it waits for a retry or failed, the following row prepared in the transaction
        that marks this one sent)."""
        sent = await self._attempt(row, prepared)
        if not isinstance(sent, tuple):
            return sent, None
        action, delivery = sent
        with self.store.atomic():
            self._mark_sent(row, action, delivery)
            ready = self._prepare_following(following)
        return True, ready

    async def _attempt(self, row: dict, prepared):
        """Build (unless prepared), mark and send the row: (action, delivery) once the platform has it; True for a
        stale alert dropped, False for a retry or failure recorded."""
        adapter = self.adapters[row["platform"]]
        in_flight = row["status"] == "sending"
        try:
            if prepared is UNPREPARED:
                with self.store.atomic():
                    prepared = self._prepare(row)
            if prepared is None:
                return True
            action = prepared
            async with asyncio.timeout(SEND_TIMEOUT):
                delivery = await self._already_delivered(adapter, row, action) if in_flight else None
                if delivery is COULD_NOT_LOOK:
                    return self._retry(row, f"could not look up in-flight delivery on {row['platform']}", None,
                                       in_flight=True)
                if delivery is None:
                    try:
                        delivery = await adapter.deliver(action)
                    except BaseException:
                        self._keep_progress(row, action)
                        raise
        except DeliveryError as exc:
            if not exc.retry:
                return self._give_up(row, str(exc))
            return self._retry(row, str(exc), exc.retry_after)
        except TimeoutError:  # the platform may have it: stay `sending`, so the retry looks first
            return self._retry(row, f"no answer from {row['platform']} within {SEND_TIMEOUT:.0f}s", None,
                               in_flight=True)
        except Exception as exc:
            log.exception("outbox #%s (%s) raised", row["id"], row["kind"], extra=about(row))
            return self._retry(row, f"{type(exc).__name__}: {exc}", None)
        return action, delivery

    def _mark_sent(self, row: dict, action, delivery: Delivery) -> None:
        self.store.mark_action_sent(row["id"], delivery.ref)
        if row["kind"] == OutboxKind.SEND_MESSAGE and row["message_id"]:
            self.store.mark_message_delivered(row["message_id"], delivery.ref)
            message = self.store.message(row["message_id"])
            conv = self.store.conversation(row["conversation_id"])
            if message["author_kind"] in (AuthorKind.BOT, AuthorKind.AGENT) and conv.first_response_at is None:
                self.store.change_conversation(conv.id, ConversationChange(first_response_at=self.store.now()))
        elif row["kind"] == OutboxKind.UPSERT_CARD:
            # The card is rendered once per row: a change made while it was in flight queued a row of its own
            # (`enqueue_action` coalesces only with rows not yet tried), so nothing is rendered again to look.
            # The action carries the ref it was built with; only the dispatcher sets it, one row at a time (a row
            # prepared in this transaction is built after it, so it sees the ref).
            if delivery.ref and (action.ref != delivery.ref or action.channel != delivery.channel):
                self.store.set_card_ref(row["conversation_id"], delivery.channel, delivery.ref)

    async def _already_delivered(self, adapter: Adapter, row: dict, action):
        """The row was in flight when the last attempt ended unanswered: does the platform have it?"""
        find = getattr(adapter, "find_delivered", None)
        if find is None:
            log.warning("outbox #%s (%s) was in flight when the last attempt ended; %s cannot look it up, so it is "
                        "sent again under the same key %s", row["id"], row["kind"], row["platform"], action.key)
            return None
        try:
            delivery = await find(action)
        except asyncio.CancelledError:
            raise
        except DeliveryError as exc:
            if exc.retry:
                log.warning("outbox #%s: could not look for it on %s (%s); looking again later", row["id"],
                            row["platform"], exc)
                return COULD_NOT_LOOK
            log.error("outbox #%s: %s cannot look up what was sent (%s); sending it again, so it may arrive twice",
                      row["id"], row["platform"], exc)
            return None
        except Exception:  # noqa: BLE001 - never send blind what may be there: look again on the retry
            log.exception("outbox #%s: looking for it on %s failed", row["id"], row["platform"])
            return COULD_NOT_LOOK
        if delivery is not None:
            log.info("outbox #%s (%s) was in flight when the last attempt ended and %s has it (ref %s): marked sent, "
                     "not sent again", row["id"], row["kind"], row["platform"], delivery.ref)
        else:
            log.info("outbox #%s (%s) was in flight when the last attempt ended; %s does not have it%s: sending",
                     row["id"], row["kind"], row["platform"],
                     f" (after part {action.parts.done})" if getattr(action, "parts", None) and action.parts.done
                     else "")
        return delivery

    def _keep_progress(self, row: dict, action) -> None:
        """Parts of a long message that did go out are not sent again on the retry."""
        if isinstance(action, SendMessage) and action.parts.done:
            self.store.keep_parts_sent(row["id"], action.parts.done, action.parts.first_ref)
            log.info("outbox #%s: %d part(s) of the message were delivered before the failure; the retry resumes "
                     "after them", row["id"], action.parts.done)

    def _retry(self, row: dict, error: str, retry_after: float | None, *, in_flight: bool = False) -> bool:
        wait = retry_after if retry_after is not None else backoff_seconds(row["attempts"])
        next_at = iso(self.store.clock() + timedelta(seconds=wait))
        self.store.mark_action_retry(row["id"], error, next_at, in_flight=in_flight)
        log.warning("outbox #%s (%s to %s) failed, attempt %d, retrying in %.1fs: %s",
                    row["id"], row["kind"], row["platform"], row["attempts"] + 1, wait, error, extra=about(row))
        return False

    def _give_up(self, row: dict, error: str) -> bool:
        self.store.mark_action_failed(row["id"], error)
        self.store.log_event("tandem", AuditAction.DELIVERY_FAILED, conversation_id=row["conversation_id"],
                             outbox_id=row["id"], kind=row["kind"], error=error)
        log.error("outbox #%s (%s to %s) cannot be delivered: %s", row["id"], row["kind"], row["platform"], error,
                  extra=about(row))
        return False
