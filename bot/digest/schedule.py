"""When the digest is posted: a cron expression read in local time (TANDEM_TIMEZONE), DST included.

croniter walks local wall-clock times; each is then placed in the zone with zoneinfo. "Monday 09:00"
stays 09:00 local on both sides of a daylight-saving change; a time that does not exist that night (the
spring gap) fires moved forward by the gap, and a time that happens twice (the autumn fold) fires once.
The scheduler's clock and sleep are injectable so tests can travel in time without sleeping.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from croniter import croniter

log = logging.getLogger(__name__)
MAX_NAP = 3600.0  # re-check the clock at least hourly (laptop sleep, clock changes)


def next_fire(cron: str, tz: ZoneInfo, after: datetime) -> datetime:
    """The first fire time strictly after `after` (aware), as an aware UTC datetime."""
    after_utc = after.astimezone(timezone.utc)
    # start a little before, in local wall time, so a fold (clock set back) is never skipped
    local = (after_utc.astimezone(tz) - timedelta(hours=3)).replace(tzinfo=None)
    it = croniter(cron, local)
    for _ in range(10_000):
        wall: datetime = it.get_next(datetime)
        # fold=0: an ambiguous time is its first occurrence; a time in the gap is read with the offset
        # before the change, i.e. moved forward by the gap (02:30 -> 03:30)
        fire = wall.replace(tzinfo=tz, fold=0).astimezone(timezone.utc)
        if fire > after_utc:
            return fire
    raise ValueError(f"TANDEM_DIGEST_CRON: {cron!r} never fires")


class DigestScheduler:
    """Waits for each fire time, then calls `post(fire_time)`; one failed post is logged, not fatal."""

    def __init__(
        self,
        post: Callable[[datetime], Awaitable[object]],
        cron: str,
        tz: ZoneInfo,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.post, self.cron, self.tz = post, cron, tz
        self.clock, self.sleep = clock, sleep
        self.fired: list[datetime] = []

    async def run(self, max_posts: int | None = None) -> None:
        """Post on schedule until cancelled (or after `max_posts`, for tests)."""
        while max_posts is None or len(self.fired) < max_posts:
            fire = next_fire(self.cron, self.tz, self.clock())
            log.info("next digest at %s (%s)", fire.astimezone(self.tz).isoformat(), self.tz.key)
            while (left := (fire - self.clock()).total_seconds()) > 0:
                await self.sleep(min(left, MAX_NAP))
            self.fired.append(fire)
            try:
                await self.post(fire)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the next week's digest must still go out
                log.exception("digest post for %s failed", fire.isoformat())


def service(core, settings=None, *, clock=None, sleep=asyncio.sleep):
    """The coroutine `bot.runtime.serve` runs next to the core: post the digest on TANDEM_DIGEST_CRON.

    Settings are read (and validated: a bad TANDEM_DIGEST_CRON is a ConfigError naming it) when this is called.
    """
    from bot.digest.publish import digest_settings, post_digest

    settings = settings or digest_settings()
    clock = clock or core.store.clock

    async def post(fire: datetime) -> None:
        # whole days: the period ends at the local midnight that starts the fire day
        midnight = datetime.combine(fire.astimezone(settings.zone).date(), time(0), settings.zone)
        await post_digest(core, settings, now=midnight)

    scheduler = DigestScheduler(post, settings.tandem_digest_cron, settings.zone, clock=clock, sleep=sleep)
    return scheduler.run()
