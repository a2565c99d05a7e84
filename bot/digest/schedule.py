"""When the digest is posted: a cron expression read in local time (TANDEM_TIMEZONE), DST included.

croniter walks local wall-clock times; each is then placed in the zone with zoneinfo. "Monday 09:00"
stays 09:00 local on both sides of a daylight-saving change; a time that does not exist that night (the
spring gap) fires moved forward by the gap, and a time that happens twice (the autumn fold) fires once.
The scheduler's clock and sleep are injectable so tests can travel in time without sleeping.

A digest due while Tandem was not running (a deploy at Monday 09:00, a crash overnight) is posted when it
starts again, if the missed time is at most TANDEM_DIGEST_CATCHUP_HOURS old; the last time posted is kept in
the database's settings table, so a restart never posts the same week twice.
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
LAST_POSTED = "digest.last_posted"  # settings-table key: fire time of the last digest posted (ISO, UTC)


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


def last_fire(cron: str, tz: ZoneInfo, since: datetime, until: datetime) -> datetime | None:
    """The latest fire time in (since, until], or None."""
    found, fire = None, next_fire(cron, tz, since)
    while fire <= until:
        found, fire = fire, next_fire(cron, tz, fire)
    return found


class DigestScheduler:
    """Waits for each fire time, then calls `post(fire_time)`; one failed post is logged, not fatal.

    `last_posted` (the fire time of the last digest posted, None if unknown) and `catch_up` let a digest
    missed while the process was down go out at start; `record(fire)` is called after each post.
    """

    def __init__(
        self,
        post: Callable[[datetime], Awaitable[object]],
        cron: str,
        tz: ZoneInfo,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        last_posted: datetime | None = None,
        catch_up: timedelta = timedelta(0),
        record: Callable[[datetime], object] = lambda fire: None,
    ):
        self.post, self.cron, self.tz = post, cron, tz
        self.clock, self.sleep = clock, sleep
        self.last_posted, self.catch_up, self.record = last_posted, catch_up, record
        self.fired: list[datetime] = []

    def missed(self) -> datetime | None:
        """The fire time owed from while we were down: after the last post, within the catch-up window."""
        if self.last_posted is None or self.catch_up <= timedelta(0):
            return None
        now = self.clock()
        return last_fire(self.cron, self.tz, max(self.last_posted, now - self.catch_up), now)

    async def run(self, max_posts: int | None = None) -> None:
        """Post on schedule until cancelled (or after `max_posts`, for tests)."""
        if (owed := self.missed()) is not None:
            log.warning("the digest due at %s was not posted (Tandem was not running then): posting it now",
                        owed.astimezone(self.tz).isoformat())
            await self._post(owed)
        while max_posts is None or len(self.fired) < max_posts:
            fire = next_fire(self.cron, self.tz, self.clock())
            log.info("next digest at %s (%s)", fire.astimezone(self.tz).isoformat(), self.tz.key)
            while (left := (fire - self.clock()).total_seconds()) > 0:
                await self.sleep(min(left, MAX_NAP))
            await self._post(fire)

    async def _post(self, fire: datetime) -> None:
        self.fired.append(fire)
        try:
            await self.post(fire)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the next week's digest must still go out
            log.exception("digest post for %s failed", fire.isoformat())
            return
        self.last_posted = fire
        self.record(fire)


def service(core, settings=None, *, clock=None, sleep=asyncio.sleep):
    """The coroutine `tandem.runtime.serve` runs next to the core: post the digest on TANDEM_DIGEST_CRON.

    Settings are read (and validated: a bad TANDEM_DIGEST_CRON is a ConfigError naming it) when this is called.
    """
    from bot.digest.publish import digest_settings, post_digest

    settings = settings or digest_settings()
    clock = clock or core.store.clock

    async def post(fire: datetime) -> None:
        # whole days: the period ends at the local midnight that starts the fire day
        midnight = datetime.combine(fire.astimezone(settings.zone).date(), time(0), settings.zone)
        await post_digest(core, settings, now=midnight)

    def record(fire: datetime) -> None:
        core.store.set_setting(LAST_POSTED, fire.isoformat())

    stored = core.store.setting(LAST_POSTED)
    last_posted = datetime.fromisoformat(stored) if stored else clock()
    if stored is None:  # first start: nothing before now is owed
        record(last_posted)
    scheduler = DigestScheduler(post, settings.tandem_digest_cron, settings.zone, clock=clock, sleep=sleep,
                                last_posted=last_posted,
                                catch_up=timedelta(hours=settings.tandem_digest_catchup_hours), record=record)
    return scheduler.run()
