"""Support hours: when people are at their desks, so a handoff can tell the customer what happens next."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_FORMAT = "must look like 'Mon-Fri 09:00-17:00' or '24/7'"
_RE = re.compile(r"^\s*(\w{3})(?:\s*-\s*(\w{3}))?\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class SupportHours:
    days: frozenset[int]  # 0 = Monday
    start: time
    end: time
    tz: ZoneInfo
    always: bool = False
    text: str = ""

    @classmethod
    def parse(cls, value: str, tz: ZoneInfo | None = None) -> "SupportHours":
        tz = tz or ZoneInfo("UTC")
        if value.strip().lower() in {"24/7", "always"}:
            return cls(frozenset(range(7)), time(0), time(23, 59), tz, always=True, text="24/7")
        m = _RE.match(value)
        if not m:
            raise ValueError(_FORMAT)
        d1, d2, h1, m1, h2, m2 = m.groups()
        try:
            a = DAYS.index(d1.lower())
            b = DAYS.index((d2 or d1).lower())
            start, end = time(int(h1), int(m1)), time(int(h2), int(m2))
        except ValueError:
            raise ValueError(_FORMAT) from None
        if end <= start:
            raise ValueError(_FORMAT + " with the end after the start")
        days = frozenset(range(a, b + 1)) if a <= b else frozenset([*range(a, 7), *range(0, b + 1)])
        return cls(days, start, end, tz, text=value.strip())

    def is_open(self, when: datetime) -> bool:
        if self.always:
            return True
        local = when.astimezone(self.tz)
        return local.weekday() in self.days and self.start <= local.time() < self.end

    def describe(self) -> str:
        return self.text if self.always else f"{self.text} ({self.tz.key})"
