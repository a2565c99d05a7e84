"""Acknowledgements first: the core's background work steps aside while a platform request is being answered.

Tandem records each event and then acknowledges it (Slack and Discord give 3 seconds); everything else the core
does (applying inbox rows, cards, the outbox, drafts coming back) runs on the same event loop. A request is
handled over several loop turns (parse, verify, dispatch through bolt, record, answer), and each turn used to
wait for whatever background step was ready in the same turn: a few milliseconds each, so under load the
acknowledgement's tail grew with the core's work rather than with its own (README, "Acknowledgements under
load").

Adapters mark the part of a request that is CPU work on our side (`with gate.acknowledging():`, after the
body has arrived, so a slow client holds up nothing); background steps call `await gate.turn()` before each
unit of work, which waits while any request is being answered. The wait is bounded (`max_wait`) so a flood
of requests slows the background work but never starves it; nothing is dropped either way, since the work
waits as rows in SQLite.
"""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

MAX_WAIT = 0.05  # seconds a background step waits for answering requests to finish before it goes ahead


class AckFirst:
    def __init__(self, max_wait: float = MAX_WAIT):
        self.max_wait = max_wait
        self.answering = 0  # requests between "body received" and "answered"
        self._quiet: asyncio.Event | None = None  # created on the loop that uses it
        self.waits = 0  # background steps that stepped aside (for tests and logs)

    def _event(self) -> asyncio.Event:
        if self._quiet is None:
            self._quiet = asyncio.Event()
            self._quiet.set()
        return self._quiet

    @contextmanager
    def acknowledging(self) -> Iterator[None]:
        """Around the part of a platform request that Tandem computes before it answers."""
        quiet = self._event()
        self.answering += 1
        quiet.clear()
        try:
            yield
        finally:
            self.answering -= 1
            if self.answering == 0:
                quiet.set()

    async def turn(self) -> None:
        """Before one unit of background work: yield the loop once, and longer (up to `max_wait`) while a
        request is being answered."""
        await asyncio.sleep(0)
        if self.answering == 0:
            return
        self.waits += 1
        try:
            async with asyncio.timeout(self.max_wait):
                await self._event().wait()
        except TimeoutError:
            pass
