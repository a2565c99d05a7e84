"""The core: the background machinery that moves events through Tandem, and the entry points adapters call.

Flow: `receive` records an event in the inbox (the adapter acknowledges the platform right after);
one processor task applies inbox rows in order through the conversation rules, and the drafts that came
back since its last turn, in one transaction per turn; a bounded pool of drafting workers calls the
drafter; every outbound action goes through the outbox; a watch queues the response-time alerts as due
times pass (bot/sla.py). Each step is persisted before the next, so a crash at any point loses nothing:
pending inbox rows, drafting jobs (a draft not stored yet is drafted again) and outbox actions are picked
up again at start-up. What each event *does* to a conversation is not
decided here: the rules (bot/rules.py) decide and the conversation service (bot/conversations.py) acts.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from bot import commands
from bot.ackfirst import AckFirst
from bot.config import Settings
from bot.conversations import ConversationService
from bot.drafting.base import Drafter
from bot.jobs import DraftJobs, Result
from bot.kb_live import LiveKB
from bot.metrics import Metrics
from bot.outbox import Dispatcher
from bot.ports import Adapter, Store
from bot.registry import Context, Later
from bot.rules import ConversationRules
from bot.safety import policy_for
from bot.snippets import SnippetBook, load_snippets
from bot.sla import SlaWatch
from bot.texts import as_text, storable
from vocab import Actor, CommandResult, EditForm, InboundMessage, Receipt
from vocab.times import iso

log = logging.getLogger(__name__)
CHECKPOINT_EVERY = 0.2  # seconds between background WAL checkpoints (bench/commit_cost.py: 1 s let the log grow enough to stall)

ALREADY_DONE = "Already done: this was received before, so nothing was done again."
KEEP_DELIVERY_KEYS = timedelta(days=1)  # Slack signatures last 5 minutes, Discord interaction tokens 15
PRUNE_EVERY = 3600.0  # seconds between prunes of old delivery keys
INBOX_BATCH = 200  # inbox rows read per look
FRESH_MAX = 2000  # inbox rows kept in hand for the processor; past it, it reads them back from the table
TURN_SECONDS = 0.002  # the processor applies inbox rows for this long in one transaction, then yields the loop
T = TypeVar("T")


def decode(payload: str) -> InboundMessage:
    """An inbox row's event, ready for the rules: every string storable (a lone surrogate becomes U+FFFD) and
    the text a string whatever the adapter put there. The row itself keeps what was delivered. A lone surrogate
    can only come from a JSON escape (\\udxxx), so a payload without one skips the walk through every string."""
    data = json.loads(payload)
    if "\\ud" in payload or "\\uD" in payload:
        data = storable(data)
    event = InboundMessage.from_payload(data)
    return event if isinstance(event.text, str) else dataclasses.replace(event, text=as_text(event.text))


async def finish(result):
    """A command's answer; a `Later` one is computed off the loop (a worker thread, or the coroutine it gives,
    which may use a child process), so the loop keeps acknowledging."""
    if isinstance(result, Later) and result.work is not None:
        try:
            if asyncio.iscoroutinefunction(result.work):
                return await result.work()
            return await asyncio.to_thread(result.work)
        except Exception:
            log.exception("command work failed after its transaction")
            return CommandResult("That could not be completed; the error is in Tandem's log.", ok=False)
    return result


class Core:
    def __init__(self, settings: Settings, store: Store, drafter: Drafter, snippets: SnippetBook | None = None,
                 kb: LiveKB | None = None):
        self.settings = settings
        self.store = store
        self.drafter = drafter
        self.kb = kb  # the knowledge base that follows TANDEM_KB (teaching writes through it), if any
        self.policy = policy_for(settings.link_domains, getattr(drafter, "kb_articles", ()))
        # the saved replies, loaded at start-up like the KB: a bad file stops start-up with its name
        self.snippets = snippets if snippets is not None else load_snippets(settings.tandem_snippets)
        self.conversations = ConversationService(settings, store, self.policy, self.snippets)
        self.rules = ConversationRules(self.conversations, store, getattr(drafter, "name", "drafter"))
        self.adapters: dict[str, Adapter] = {}
        self.ack = AckFirst()  # background steps give way while a platform request is answered (bot/ackfirst.py)
        self.outbox = Dispatcher(store, self.adapters, self.conversations, gate=self.ack)
        self.sla = SlaWatch(store, self.conversations, self.outbox.wake)  # response-time alerts (bot/sla.py)
        self.metrics = Metrics(self)
        self.jobs = DraftJobs(settings, store, lambda: self.drafter, self.ack, self.metrics.observe_draft, self._drafted)
        self._tasks: list[asyncio.Task] = []
        self._inbox_wake = asyncio.Event()
        self._results: list[Result] = []  # drafts back, for the next turn
        self._fresh: list[dict] | None = None  # inbox rows recorded since the processor looked; None: read the table
        self._busy = 0
        self._pruned_at: float | None = None  # monotonic time of the last prune of delivery keys
        self.started = False

    # ---- lifecycle ---------------------------------------------------------------------------------------
    def register(self, adapter: Adapter) -> None:
        self.adapters[adapter.platform] = adapter
        self.outbox.wake()

    async def start(self) -> None:
        """Start the processor, the drafting workers and the outbox; resume whatever a crash left pending."""
        if self.started:
            return
        self.started = True
        self.jobs.reset()
        self._fresh = None
        log.info("mode %s (%s)", self.mode.value, self.conversations.mode_origin())
        log.info("%d saved replies from %s", len(self.snippets),
                 self.settings.tandem_snippets or "the bundled sample set (TANDEM_SNIPPETS unset)")
        pending, drafting = self.store.count_inbox("pending"), self.store.count_drafts_in_progress()
        if pending or drafting:
            log.info("resuming after restart: %d inbox events, %d drafts in progress", pending, drafting)
        self._tasks = [asyncio.create_task(self._process_inbox(), name="tandem-inbox")]
        self._tasks.append(asyncio.create_task(self.jobs.feed(), name="tandem-draft-feeder"))
        for i in range(self.settings.tandem_workers):
            self._tasks.append(asyncio.create_task(self.jobs.work(), name=f"tandem-drafter-{i}"))
        self._tasks.append(asyncio.create_task(self.outbox.run(), name="tandem-outbox"))
        if self.kb is not None and self.kb.writable and self.settings.tandem_kb_poll > 0:
            self._tasks.append(asyncio.create_task(self.kb.watch(self.settings.tandem_kb_poll), name="tandem-kb"))
        self._tasks.append(asyncio.create_task(self.sla.run(), name="tandem-sla"))
        if self.store.defer_checkpoints():
            self._tasks.append(asyncio.create_task(self._checkpoints(), name="tandem-checkpoints"))
        self._inbox_wake.set()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._store_results()  # drafts that came back after the processor's last turn are kept, not drafted again
        self.started = False

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until every recorded event is processed, drafted and delivered (used by tests and the console)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.started and self.sla.has_due_work():  # a due time passed (the clock moved): alert before calling it idle
                self.sla.wake()
            elif (
                self._busy == 0 and self.jobs.busy == 0
                and not self._inbox_wake.is_set()
                and not self.jobs.claimed
                and not self._results
                and self.store.count_inbox("pending") == 0
                and self.store.count_drafts_in_progress() == 0
                and not self.outbox.has_due_work()
                and (self.kb is None or self.kb.applied.is_set())  # a taught article is in the index
            ):
                return
            if time.monotonic() > deadline:
                raise TimeoutError("Tandem did not become idle in time")
            await asyncio.sleep(0.005)

    async def _checkpoints(self) -> None:
        """Copy SQLite's write-ahead log back into the database every CHECKPOINT_EVERY seconds, in a worker thread on
        a connection of its own, so no commit on the loop pays for it (storage/maintenance.py says why)."""
        while True:
            await asyncio.sleep(CHECKPOINT_EVERY)
            try:
                await asyncio.to_thread(self.store.checkpoint)
            except Exception:  # a locked or vanished file this time: the next second tries again
                log.warning("background checkpoint failed; the next one will try again", exc_info=True)

    # ---- intake ------------------------------------------------------------------------------------------
    def acknowledging(self):
        """Adapters wrap the part of a platform request they compute before answering it: meanwhile the core's
        background work gives way (bot/ackfirst.py)."""
        return self.ack.acknowledging()

    async def receive(self, event: InboundMessage) -> Receipt:
        """Record an inbound event (deduplicated by platform and event id). Fast: the adapter acks after this."""
        row, duplicate = self.store.record_inbound_row(  # the key must be storable; the payload is kept as sent
            storable(event.address.platform), storable(event.event_id), storable(event.kind), event.to_payload()
        )
        if duplicate:
            log.info("duplicate %s event %s ignored (inbox #%s)", event.address.platform, event.event_id, row["id"])
        else:
            if self._fresh is not None and len(self._fresh) >= FRESH_MAX:
                self._fresh = None  # too many in hand: the processor reads them back from the table
            elif self._fresh is not None:  # committed already (autocommit): the processor applies it from here
                self._fresh.append(row)
            self._inbox_wake.set()
        return Receipt(row["id"], duplicate)

    def _pending(self) -> list[dict]:
        """The inbox rows to apply next, in id order: those recorded here since the last look, in hand, while they are
        all there is; else read from the table (at start, and after more than FRESH_MAX piled up), until a read
        finds less than a batch: every row recorded after it is then in hand."""
        if self._fresh is not None:
            rows, self._fresh = self._fresh, []
            return rows
        rows = self.store.pending_inbox(limit=INBOX_BATCH)
        if len(rows) < INBOX_BATCH:
            self._fresh = []
        return rows

    async def _process_inbox(self) -> None:
        while True:
            await self._inbox_wake.wait()  # set by a recorded event and by a draft that came back
            self._busy += 1
            try:
                self._inbox_wake.clear()
                rows = self._pending()
                while rows or self._results:
                    await self.ack.turn()  # a backlog must not hold acknowledgements: give way before each turn
                    full = len(rows) == INBOX_BATCH
                    rows = rows[self._apply_turn(rows):]
                    if full and not rows:  # a backlog longer than one read; a row recorded since set the wake
                        rows = self._pending()
            finally:
                self._busy -= 1

    def _apply_turn(self, rows: list[dict]) -> int:
        """Store the drafts back since the last turn, then apply inbox rows in order, in one transaction, for at most
        TURN_SECONDS (every draft, one row at least); returns how many rows. One commit for several rows and drafts is
        most of what a burst saves; nothing awaits inside, so no event is acknowledged while its row sits in an
        uncommitted transaction. If anything fails, the turn is rolled back and each draft and row applied in a
        transaction of its own, so only the bad row is marked (a bad draft is logged)."""
        deadline = time.perf_counter() + TURN_SECONDS
        applied = 0
        results, self._results = self._results, []
        try:
            with self.store.atomic():
                for result in results:
                    self.rules.apply_draft(*result)
                for row in rows:
                    self.rules.apply(decode(row["payload"]), row["id"])
                    self.store.mark_inbox_done(row["id"])
                    applied += 1
                    if time.perf_counter() >= deadline:
                        break
            self.jobs.announce(self.conversations.take_jobs())  # committed: the feeder queues them unread
        except Exception:  # noqa: BLE001 - the careful path below finds the bad row or draft and logs it
            self.conversations.take_jobs()  # ids of a rolled-back transaction: the feeder reads the table instead
            self._results[:0] = results
            self._store_results()
            turn = rows[:applied + 1]  # the rows applied before the failure, and the one that raised
            for row in turn:
                self._process_row(row)
            applied = len(turn)
            self.conversations.take_jobs()
            self.jobs.rescan()
        self.outbox.wake()
        self.sla.wake()
        return applied

    def _drafted(self, result: Result) -> None:
        """A draft came back (bot/jobs.py): the processor stores it in its next turn."""
        self._results.append(result)
        self._inbox_wake.set()

    def _store_results(self) -> None:
        """The drafts that came back, each in a transaction of its own (the careful path, and a stop)."""
        results, self._results = self._results, []
        for result in results:
            try:
                with self.store.atomic():
                    self.rules.apply_draft(*result)
            except Exception:  # it stays `drafting` in SQLite: the next start drafts it again
                log.exception("drafting job #%s crashed", result[0])

    def _process_row(self, row: dict) -> None:
        try:
            event = decode(row["payload"])
            with self.store.atomic():
                self.rules.apply(event, row["id"])
                self.store.mark_inbox_done(row["id"])
        except Exception as exc:  # one bad event must not stop the others; it stays in the inbox, marked
            log.exception("inbox event #%s (%s %s) failed", row["id"], row["platform"], row["event_id"])
            self.store.mark_inbox_done(row["id"], error=storable(f"{type(exc).__name__}: {exc}"))

    # ---- commands ----------------------------------------------------------------------------------------
    def _context(self, actor: Actor) -> Context:
        return Context(actor, self.store, self.conversations, self.kb)

    def _after_command(self) -> None:
        self.outbox.wake()
        if self.conversations.take_jobs():  # a command that queued a draft: the table says whether it committed
            self.jobs.rescan()
        self.sla.wake()

    def _once(self, delivery: str | None, what: str, run: Callable[[], T]) -> T | CommandResult:
        """Run agent input once per delivery key (a Slack trigger_id, a Discord interaction id): the key is
        recorded in the transaction of the command's effect, so a replay, even after a restart, does nothing."""
        if not delivery:
            return run()
        self._prune_deliveries()
        with self.store.atomic():
            if not self.store.record_delivery(delivery, what):
                log.info("%s delivered again (%s); already executed, not run again", what, delivery)
                return CommandResult(ALREADY_DONE, data={"duplicate": True})
            return run()

    def _prune_deliveries(self) -> None:
        if self._pruned_at is not None and time.monotonic() - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = time.monotonic()
        pruned = self.store.prune_deliveries(iso(self.store.clock() - KEEP_DELIVERY_KEYS))
        if pruned:
            log.info("forgot %d delivery key(s) older than %s", pruned, KEEP_DELIVERY_KEYS)

    async def execute(self, actor: Actor, line: str, *, delivery: str | None = None) -> CommandResult:
        """A typed command line (slash command text, console line)."""
        result = self._once(delivery, line.split(" ", 1)[0], lambda: commands.execute_line(self._context(actor), line))
        self._after_command()
        return self.policy.answer(await finish(result))

    async def invoke(self, actor: Actor, name: str, args: dict[str, Any], *,
                     delivery: str | None = None) -> CommandResult:
        """A command with its arguments already apart (a modal submission, a Discord app command)."""
        result = self._once(delivery, name, lambda: commands.invoke(self._context(actor), name, args))
        self._after_command()
        return self.policy.answer(await finish(result))

    async def press(self, actor: Actor, command: str, target_id: int, *,
                    delivery: str | None = None, snippet: str | None = None) -> CommandResult | EditForm:
        """A review-card button: the answer to show, or the Edit form to open (`snippet`: Edit's form again,
        its text filled from that saved reply)."""
        result = self._once(delivery, f"button {command}",
                            lambda: commands.press(self._context(actor), command, target_id, snippet=snippet))
        self._after_command()
        return self.policy.answer(await finish(result))

    async def submit_edit(self, actor: Actor, draft_id: int, text: str | None, *, snippet: str | None = None,
                          delivery: str | None = None) -> CommandResult:
        """The Edit form sent back: its text, or the saved reply chosen in it (`commands.submit_edit`)."""
        result = self._once(delivery, "edit form",
                            lambda: commands.submit_edit(self._context(actor), draft_id, text, snippet))
        self._after_command()
        return self.policy.answer(await finish(result))

    def snippet_choices(self, query: str = "", limit: int = 25) -> list[tuple[str, str]]:
        """Saved replies matching what an agent typed so far, (name, title), for a platform's autocomplete."""
        return [(s.name, s.title) for s in self.snippets.search(query, limit=limit)]

    @property
    def mode(self):
        return self.conversations.mode

    def wake_outbox(self) -> None:
        self.outbox.wake()


__all__ = ["Core"]
