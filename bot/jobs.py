"""Drafting jobs between SQLite and the drafter: the bounded queue, the workers, and what each job asks.

A job is a `drafting` row in SQLite, so a crash loses none (the next start finds it); in memory only its id
travels. The conversation service notes every job it creates, and the processor hands over the ids of a turn
once that turn has committed (`announce`), so the feeder queues them without reading the table. It reads the
table (a cursor over the ids, which only grow) at start-up and after a turn was rolled back (`rescan`): then an
id noted in the failed transaction never existed and may be given to another job, so only the table is trusted.

A worker reads what the drafter needs (the job, its conversation and recent messages), lets an acknowledgement
in progress go first (a drafter may answer on the loop, bot/drafting/retrieval.py), calls the drafter with a
timeout, and hands the result back to the processor, which stores it in its next turn.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bot.ackfirst import AckFirst
from bot.config import Settings
from bot.drafting.base import Drafter, DrafterError, DraftRequest, DraftResult
from bot.drafting.examples import team_examples
from bot.ports import Store
from vocab import AuthorKind, DraftStatus

log = logging.getLogger(__name__)

FEED_BATCH = 100  # drafting jobs read per look
MAX_QUESTION_CHARS = 4000
Result = tuple[int, DraftResult | None, str, float]  # draft id, the result or None, the error, milliseconds


class DraftJobs:
    def __init__(self, settings: Settings, store: Store, drafter: Callable[[], Drafter], gate: AckFirst,
                 observe: Callable[[float], None], done: Callable[[Result], None]):
        """`drafter` gives the core's drafter at each call (it may be swapped while running)."""
        self.settings, self.store, self.drafter, self.gate = settings, store, drafter, gate
        self.observe, self.done = observe, done
        self.wake = asyncio.Event()
        self.busy = 0
        self.reset()

    def reset(self) -> None:
        """At start: an empty queue, and the table read from its first job."""
        self.queue: asyncio.Queue[int] = asyncio.Queue(maxsize=self.settings.tandem_queue_size)
        self.claimed: set[int] = set()
        self._cursor = 0
        self._announced: list[int] = []
        self._scan = True
        self._feeding = False
        self.wake.set()

    def announce(self, ids: list[int]) -> None:
        """Jobs created by a transaction that has committed: queued here while the queue has room and the feeder
        holds nothing back (no task switch through it), else handed to the feeder, in order either way."""
        if not ids:
            return
        if self._scan or self._feeding or self._announced or self.queue.maxsize - self.queue.qsize() < len(ids):
            self._announced.extend(ids)
            self.wake.set()
            return
        for draft_id in ids:
            if draft_id > self._cursor:
                self._cursor = draft_id
                self.claimed.add(draft_id)
                self.queue.put_nowait(draft_id)

    def rescan(self) -> None:
        """A transaction that may have created jobs was rolled back: look in the table instead."""
        self._scan = True
        self.wake.set()

    async def feed(self) -> None:
        """Move jobs into the bounded queue, in id order; blocks (only itself) while the workers are saturated."""
        while True:
            await self.wake.wait()
            self.wake.clear()
            self._feeding = True  # meanwhile `announce` leaves every id to this loop, so the order holds
            try:
                if self._scan:
                    self._scan = False
                    while batch := self.store.drafting_ids(after_id=self._cursor, limit=FEED_BATCH):
                        for draft_id in batch:
                            await self._put(draft_id)
                        if len(batch) < FEED_BATCH:  # that was all; a job created since is announced or rescanned
                            break
                while self._announced:
                    announced, self._announced = self._announced, []
                    for draft_id in announced:
                        if draft_id > self._cursor:  # a scan since the announcement may have queued it already
                            await self._put(draft_id)
            finally:
                self._feeding = False

    async def _put(self, draft_id: int) -> None:
        self._cursor = draft_id
        self.claimed.add(draft_id)
        await self.queue.put(draft_id)

    async def work(self) -> None:
        """One worker: drafts queued jobs one at a time (`TANDEM_WORKERS` of them bound the drafter's calls)."""
        while True:
            draft_id = await self.queue.get()
            self.busy += 1
            try:
                await self._draft(draft_id)
            except Exception:
                log.exception("drafting job #%s crashed", draft_id)
            finally:
                self.claimed.discard(draft_id)
                self.busy -= 1
                self.queue.task_done()

    def request(self, draft_id: int) -> DraftRequest | None:
        """What the drafter is asked for the job, None if it is no longer drafting. Two reads and no transaction: the
        connection is the loop's alone and nothing awaits between them, so nothing can change in between."""
        job = self.store.draft_job(draft_id, language=True)
        if job is None or job.status != DraftStatus.DRAFTING:
            return None
        conv = job.conversation
        recent = self.store.recent_messages(conv.id, limit=12)
        message = next((m for m in recent if m["id"] == job.message_id), None) or self.store.message(job.message_id)
        history = tuple((m["author_kind"], m["text"]) for m in recent
                        if m["id"] < job.message_id and m["author_kind"] != AuthorKind.NOTE)
        question = message["text"][:MAX_QUESTION_CHARS]
        examples = ()
        if getattr(self.drafter(), "uses_examples", False):  # only the LLM drafter: the KB drafter pays nothing
            examples = team_examples(self.store, conv.platform, conv.workspace, question, exclude=conv.id)
        return DraftRequest(conv.id, question, history, conv.language, examples, job.last_language or "")

    async def _draft(self, draft_id: int) -> None:
        request = self.request(draft_id)
        if request is None:
            return
        await self.gate.turn()  # a drafter answering on the loop lets an acknowledgement in progress go first
        started = time.perf_counter()
        drafter = self.drafter()
        result: DraftResult | None = None
        error = ""
        try:
            async with asyncio.timeout(self.settings.tandem_llm_timeout + 5):
                result = await drafter.draft(request)
        except (DrafterError, TimeoutError) as exc:
            error = str(exc) or "the drafter timed out"
        except Exception as exc:  # a drafter bug still becomes a handoff, never a lost message
            log.exception("drafter %s failed on draft d%s", getattr(drafter, "name", "?"), draft_id,
                          extra={"conversation_id": request.conversation_id})
            error = f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - started
        self.observe(seconds)
        # stored by the processor's next turn, in the transaction of whatever it applies then (one commit, not one
        # per draft); `stop` stores what is left; a crash first leaves the job `drafting`: drafted again at start
        self.done((draft_id, result, error, seconds * 1000))
