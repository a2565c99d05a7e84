"""Response-time targets: when a reply is due, and the watch that notices due times passing.

A customer who waits for a person has a due time (TANDEM_SLA_FIRST_RESPONSE for the first reply of a
conversation, TANDEM_SLA_NEXT_RESPONSE for a later one), counted in support hours (bot/hours.py) unless
TANDEM_SLA_CLOCK=24x7: a target of 4h set at 16:00 on a Friday with hours Mon-Fri 09:00-17:00 is due at
12:00 on Monday. `SlaClock` does that arithmetic; the conversation service starts and closes the targets.

`SlaWatch` is a task of the core, beside the outbox dispatcher, not a separate service: it needs the
conversation service (which queues the alerts and refreshes the card in one transaction), it must run in
every process that runs a core (the console too, and tests), and it reads time from the store's injected
clock, so a test moves the clock and wakes it instead of sleeping. It sleeps until the next warning or due
time (at most MAX_NAP, so a changed clock is noticed), queues each alert once (the target row and the
outbox's idempotency key both say so, in one transaction), and wakes the outbox.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.hours import SupportHours
from bot.texts import duration

log = logging.getLogger(__name__)
MAX_NAP = 30.0  # seconds: look at the clock at least this often
MAX_DAYS = 400  # support hours that never open (an empty day range) cannot loop forever


class SlaClock:
    """Time as a target counts it: support hours, or every second (`hours` None)."""

    def __init__(self, hours: SupportHours | None):
        self.hours = None if hours is None or hours.always else hours

    def _windows(self, start: datetime):
        """The open windows [a, b) from the day of `start` on, in UTC-aware datetimes."""
        assert self.hours is not None
        local = start.astimezone(self.hours.tz)
        day = local.date()
        for _ in range(MAX_DAYS):
            if day.weekday() in self.hours.days:
                a = datetime.combine(day, self.hours.start, self.hours.tz)
                b = datetime.combine(day, self.hours.end, self.hours.tz)
                if b > start:
                    yield max(a, start), b
            day += timedelta(days=1)

    def add(self, start: datetime, seconds: float) -> datetime:
        """The moment `seconds` of counted time after `start`."""
        if self.hours is None:
            return start + timedelta(seconds=seconds)
        left = seconds
        for a, b in self._windows(start):
            span = (b - a).total_seconds()
            if left <= span:
                return a + timedelta(seconds=left)
            left -= span
        return start + timedelta(seconds=seconds)

    def between(self, a: datetime, b: datetime) -> float:
        """Counted seconds from `a` to `b` (negative when `b` is before `a`)."""
        if b < a:
            return -self.between(b, a)
        if self.hours is None:
            return (b - a).total_seconds()
        total = 0.0
        for start, end in self._windows(a):
            if start >= b:
                break
            total += (min(end, b) - start).total_seconds()
        return total


def span(seconds: float) -> str:
    """A wait for people, to the minute past one minute: 45s, 4m, 2h 05m, 1d 3h."""
    if seconds < 60:
        return f"{int(seconds)}s"
    minutes = int(seconds // 60)
    return f"{minutes}m" if minutes < 60 else duration(minutes * 60)


def due_label(clock: SlaClock, due_at: str, now: datetime) -> str:
    """A due time for people: 'reply due in 4m', 'reply overdue by 3m'."""
    left = clock.between(now, datetime.fromisoformat(due_at))
    if left > 0:
        return f"reply due in {span(left)}"
    return f"reply overdue by {span(-left)}" if left < 0 else "reply due now"


class SlaWatch:
    """Notices warning and due times passing and asks the conversation service to alert (see the module doc)."""

    def __init__(self, store, conversations, wake_outbox: Callable[[], None]):
        self.store = store
        self.conversations = conversations
        self.wake_outbox = wake_outbox
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    def has_due_work(self) -> bool:
        return bool(self.conversations.settings.sla_targets and self.store.targets_to_alert(limit=1))

    def check(self) -> int:
        """Queue the alerts now due; returns how many were queued."""
        queued = 0
        for row in self.store.targets_to_alert():
            try:
                with self.store.atomic():
                    queued += self.conversations.sla_alert(row)
            except Exception:  # noqa: BLE001 - one conversation's failure must not stop the others' alerts
                log.exception("the response-time alert of target #%s failed", row["id"])
        if queued:
            self.wake_outbox()
        return queued

    def _seconds_to_next(self) -> float:
        at = self.store.next_target_alert_at()
        if at is None:
            return MAX_NAP
        return min(MAX_NAP, max(0.05, (datetime.fromisoformat(at) - self.store.clock()).total_seconds()))

    async def run(self) -> None:
        if not self.conversations.settings.sla_targets:
            return
        while True:
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the watch must keep watching
                log.exception("the response-time watch failed; looking again shortly")
            try:
                async with asyncio.timeout(self._seconds_to_next()):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
