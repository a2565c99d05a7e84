"""The core: turns inbound events into logged messages, drafts, handoffs and outbound actions.

Flow: `receive` records an event in the inbox (the adapter acknowledges the platform right after);
one processor task applies inbox rows in order to the conversation state machine; a bounded pool of
drafting workers calls the drafter; every outbound action goes through the outbox. Each step is
persisted before the next, so a crash at any point loses nothing: pending inbox rows, drafting jobs
and outbox actions are picked up again at start-up.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from datetime import timedelta
from typing import Any

from bot import texts
from bot.cards import build_card
from bot.config import Settings
from bot.conversation import ConversationRules
from bot.drafting.base import Drafter, DrafterError, DraftRequest, DraftResult
from vocab import (
    Actor,
    CardView,
    CommandResult,
    DraftStatus,
    Handoff,
    InboundMessage,
    Mode,
    Receipt,
    State,
)
from bot.outbox import Dispatcher
from vocab import Conversation
from storage.store import Store

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 4000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Drop control characters (keep newlines and tabs) and surrounding blanks; keep emoji and all scripts."""
    return _CONTROL.sub("", text or "").strip()


class Core:
    def __init__(self, settings: Settings, store: Store, drafter: Drafter):
        self.settings = settings
        self.store = store
        self.drafter = drafter
        self.mode = Mode(settings.tandem_mode)
        self.adapters: dict[str, Any] = {}
        self.rules = ConversationRules(self)
        self.outbox = Dispatcher(self)
        self._tasks: list[asyncio.Task] = []
        self._inbox_wake = asyncio.Event()
        self._draft_wake = asyncio.Event()
        self._queue: asyncio.Queue[int] = asyncio.Queue(maxsize=settings.tandem_queue_size)
        self._claimed: set[int] = set()
        self._fed_up_to = 0
        self._busy = 0
        self.started = False

    # ---- lifecycle ---------------------------------------------------------------------------------------
    def register(self, adapter) -> None:
        self.adapters[adapter.platform] = adapter
        self.outbox.wake()

    async def start(self) -> None:
        """Start the processor, the drafting workers and the outbox; resume whatever a crash left pending."""
        if self.started:
            return
        self.started = True
        self._queue = asyncio.Queue(maxsize=self.settings.tandem_queue_size)
        self._claimed, self._fed_up_to = set(), 0
        pending, drafting = self.store.count_inbox("pending"), self.store.count_drafts_in_progress()
        if pending or drafting:
            log.info("resuming after restart: %d inbox events, %d drafts in progress", pending, drafting)
        self._tasks = [asyncio.create_task(self._process_inbox(), name="tandem-inbox")]
        self._tasks.append(asyncio.create_task(self._feed_drafts(), name="tandem-draft-feeder"))
        for i in range(self.settings.tandem_workers):
            self._tasks.append(asyncio.create_task(self._draft_worker(), name=f"tandem-drafter-{i}"))
        self._tasks.append(asyncio.create_task(self.outbox.run(), name="tandem-outbox"))
        self._inbox_wake.set()
        self._draft_wake.set()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self.started = False

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until every recorded event is processed, drafted and delivered (used by tests and the console)."""
        deadline = time.monotonic() + timeout
        while True:
            if (
                self._busy == 0
                and not self._inbox_wake.is_set()
                and not self._claimed
                and self.store.count_inbox("pending") == 0
                and self.store.count_drafts_in_progress() == 0
                and not self.outbox.has_due_work()
            ):
                return
            if time.monotonic() > deadline:
                raise TimeoutError("Tandem did not become idle in time")
            await asyncio.sleep(0.005)

    # ---- intake ------------------------------------------------------------------------------------------
    async def receive(self, event: InboundMessage) -> Receipt:
        """Record an inbound event (deduplicated by platform and event id). Fast: the adapter acks after this."""
        inbox_id, duplicate = self.store.record_inbound(
            event.address.platform, event.event_id, event.kind, event.to_payload()
        )
        if duplicate:
            log.info("duplicate %s event %s ignored (inbox #%s)", event.address.platform, event.event_id, inbox_id)
        else:
            self._inbox_wake.set()
        return Receipt(inbox_id, duplicate)

    async def _process_inbox(self) -> None:
        while True:
            await self._inbox_wake.wait()
            self._busy += 1
            try:
                self._inbox_wake.clear()
                while rows := self.store.pending_inbox(limit=200):
                    for row in rows:
                        self._process_row(row)
                        await asyncio.sleep(0)  # a backlog must not hold acknowledgements: yield after each row
            finally:
                self._busy -= 1

    def _process_row(self, row: dict) -> None:
        try:
            event = InboundMessage.from_payload(json.loads(row["payload"]))
            with self.store.atomic():
                self.rules.apply(event, row["id"])
                self.store.mark_inbox_done(row["id"])
        except Exception as exc:  # one bad event must not stop the others; it stays in the inbox, marked
            log.exception("inbox event #%s (%s %s) failed", row["id"], row["platform"], row["event_id"])
            self.store.mark_inbox_done(row["id"], error=f"{type(exc).__name__}: {exc}")
        self._draft_wake.set()
        self.outbox.wake()

    # ---- drafting ----------------------------------------------------------------------------------------
    def request_draft(self, conv: Conversation, message_id: int) -> int:
        draft_id = self.store.create_draft_job(conv.id, message_id)
        self._draft_wake.set()
        return draft_id

    async def _feed_drafts(self) -> None:
        """Move persisted drafting jobs into the bounded queue; blocks (only itself) when workers are saturated."""
        while True:
            await self._draft_wake.wait()
            self._draft_wake.clear()
            while batch := self.store.drafts_in_progress(after_id=self._fed_up_to, limit=100):
                for draft in batch:  # ids only grow, so a cursor finds new jobs without rescanning old ones
                    self._fed_up_to = draft.id
                    self._claimed.add(draft.id)
                    await self._queue.put(draft.id)

    async def _draft_worker(self) -> None:
        while True:
            draft_id = await self._queue.get()
            self._busy += 1
            try:
                await self._draft(draft_id)
            except Exception:
                log.exception("drafting job #%s crashed", draft_id)
            finally:
                self._claimed.discard(draft_id)
                self._busy -= 1
                self._queue.task_done()

    async def _draft(self, draft_id: int) -> None:
        draft = self.store.draft(draft_id)
        if draft is None or draft.status != DraftStatus.DRAFTING:
            return
        conv = self.store.conversation(draft.conversation_id)
        message = self.store.message(draft.message_id)
        history = tuple(
            (m["author_kind"], m["text"])
            for m in self.store.recent_messages(conv.id, limit=12)
            if m["id"] < draft.message_id and m["author_kind"] != "note"
        )
        request = DraftRequest(conv.id, message["text"][:MAX_QUESTION_CHARS], history, conv.language)
        started = time.perf_counter()
        result: DraftResult | None = None
        error = ""
        try:
            async with asyncio.timeout(self.settings.tandem_llm_timeout + 5):
                result = await self.drafter.draft(request)
        except (DrafterError, TimeoutError) as exc:
            error = str(exc) or "the drafter timed out"
        except Exception as exc:  # a drafter bug still becomes a handoff, never a lost message
            log.exception("drafter %s failed on draft #%s", getattr(self.drafter, "name", "?"), draft_id)
            error = f"{type(exc).__name__}: {exc}"
        latency_ms = (time.perf_counter() - started) * 1000
        with self.store.atomic():
            self.rules.apply_draft(draft_id, result, error, latency_ms)
        self.outbox.wake()

    # ---- commands ----------------------------------------------------------------------------------------
    async def execute(self, actor: Actor, line: str) -> CommandResult:
        from bot.commands import execute_line

        result = execute_line(self, actor, line)
        self.outbox.wake()
        self._draft_wake.set()
        return result

    async def invoke(self, actor: Actor, name: str, args: dict[str, Any]) -> CommandResult:
        from bot.commands import invoke

        result = invoke(self, actor, name, args)
        self.outbox.wake()
        self._draft_wake.set()
        return result

    # ---- read helpers for adapters -----------------------------------------------------------------------
    def card(self, conversation_id: int) -> CardView | None:
        conv = self.store.conversation(conversation_id)
        return build_card(self.store, conv) if conv else None

    def draft_text(self, draft_id: int) -> str | None:
        """The text to prefill an Edit form with; None unless the draft still waits for a decision."""
        draft = self.store.draft(draft_id)
        return draft.text if draft and draft.status == DraftStatus.PENDING else None

    # ---- helpers used by the rules and the desk ----------------------------------------------------------
    def send(
        self, conv: Conversation, text: str, *, author_kind: str = "bot", style: str = "reply",
        author: Actor | None = None, draft_id: int | None = None,
    ) -> int:
        """Log a message to the customer and queue its delivery through the outbox."""
        message_id = self.store.append_message(
            conv.id, author_kind, text, conv.platform,
            author_id=author.user_id if author else "", author_name=author.label if author else "",
            draft_id=draft_id,
        )
        address = conv.address
        self.store.enqueue_action(
            conv.platform, "send_message",
            {"address": address.__dict__, "text": text, "style": style},
            conversation_id=conv.id, message_id=message_id,
        )
        self.outbox.wake()
        return message_id

    def touch_card(self, conv: Conversation) -> None:
        self.store.enqueue_action(conv.platform, "upsert_card", {"conversation_id": conv.id}, conversation_id=conv.id)

    def handoff(self, conv: Conversation, reason: Handoff | str, detail: str = "", actor: str = "tandem") -> Conversation:
        """Ask a human to take over, and tell the customer what happens next (once per handoff)."""
        reason = Handoff(reason).value
        if conv.state in (State.WAITING_HUMAN, State.HUMAN):
            self.store.log_event(actor, "handoff_signal", conversation_id=conv.id, reason=reason, detail=detail)
            return conv
        conv = self.store.update_conversation(
            conv.id, state=State.WAITING_HUMAN.value, handoff_reason=reason, handoff_at=self.store.now()
        )
        self.store.log_event(actor, "handoff", conversation_id=conv.id, reason=reason, detail=detail)
        hours = self.settings.support_hours
        notice = texts.handoff_notice(
            reason, conv.language, open_now=hours.is_open(self.store.clock()),
            minutes=self.settings.tandem_expected_wait_minutes, hours=hours.describe(),
        )
        self.send(conv, notice, author_kind="system", style="system")
        self.touch_card(conv)
        log.info("conversation #%s handed off: %s %s", conv.id, reason, detail)
        return conv

    def reopen_window(self) -> timedelta:
        return timedelta(hours=self.settings.tandem_reopen_hours)

    def set_mode(self, mode: Mode) -> None:
        self.mode = mode
        self.store.set_setting("mode", mode.value)


__all__ = ["Core", "clean_text"]
