"""The digest fires at Monday 09:00 local time on both sides of a daylight-saving change, by time travel."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.config import ConfigError, load_settings
from bot.digest.schedule import DigestScheduler, next_fire
from bot.digest.settings import DigestSettings

UTC = timezone.utc
NY = ZoneInfo("America/New_York")
AMS = ZoneInfo("Europe/Amsterdam")


def test_next_fire_keeps_local_time_across_spring_and_autumn():
    # New York springs forward on Sun 9 Mar 2025 and falls back on Sun 2 Nov 2025
    assert next_fire("0 9 * * 1", NY, datetime(2025, 3, 3, 14, 0, 1, tzinfo=UTC)) == datetime(2025, 3, 10, 13, 0, tzinfo=UTC)
    assert next_fire("0 9 * * 1", NY, datetime(2025, 3, 1, tzinfo=UTC)) == datetime(2025, 3, 3, 14, 0, tzinfo=UTC)
    assert next_fire("0 9 * * 1", NY, datetime(2025, 10, 28, tzinfo=UTC)) == datetime(2025, 11, 3, 14, 0, tzinfo=UTC)
    # Amsterdam: last Sunday of March / October
    assert next_fire("0 9 * * 1", AMS, datetime(2025, 3, 25, tzinfo=UTC)) == datetime(2025, 3, 31, 7, 0, tzinfo=UTC)
    assert next_fire("0 9 * * 1", AMS, datetime(2025, 10, 21, tzinfo=UTC)) == datetime(2025, 10, 27, 8, 0, tzinfo=UTC)


def test_gap_and_fold_times():
    # 02:30 does not exist on 9 Mar 2025 in New York: it fires moved forward by the gap, at 03:30 EDT
    assert next_fire("30 2 * * *", NY, datetime(2025, 3, 9, 5, tzinfo=UTC)) == datetime(2025, 3, 9, 7, 30, tzinfo=UTC)
    # 01:30 happens twice on 2 Nov 2025: fire once, at the first one, then the next day
    first = next_fire("30 1 * * *", NY, datetime(2025, 11, 2, 4, tzinfo=UTC))
    assert first == datetime(2025, 11, 2, 5, 30, tzinfo=UTC)
    assert next_fire("30 1 * * *", NY, first) == datetime(2025, 11, 3, 6, 30, tzinfo=UTC)


async def test_scheduler_posts_at_local_nine_across_dst_without_sleeping():
    now = [datetime(2025, 3, 1, 12, tzinfo=UTC)]
    naps: list[float] = []

    async def sleep(seconds: float) -> None:
        naps.append(seconds)
        now[0] += timedelta(seconds=seconds)

    posted: list[datetime] = []

    async def post(fire: datetime) -> None:
        posted.append(now[0])
        if len(posted) == 2:
            raise RuntimeError("platform down")  # one failed post must not stop the schedule

    scheduler = DigestScheduler(post, "0 9 * * 1", NY, clock=lambda: now[0], sleep=sleep)
    await scheduler.run(max_posts=3)
    assert [p.astimezone(NY).strftime("%a %d %H:%M %Z") for p in posted] == [
        "Mon 03 09:00 EST", "Mon 10 09:00 EDT", "Mon 17 09:00 EDT"]
    assert max(naps) <= 3600


def test_settings_validate_cron(monkeypatch):
    assert load_settings(DigestSettings, env_file=None).tandem_digest_cron == "0 9 * * 1"
    monkeypatch.setenv("TANDEM_DIGEST_CRON", "every monday")
    with pytest.raises(ConfigError, match="^TANDEM_DIGEST_CRON: .*got 'every monday'"):
        load_settings(DigestSettings, env_file=None)
    monkeypatch.setenv("TANDEM_DIGEST_CRON", "0 9 * * 1")
    monkeypatch.setenv("TANDEM_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ConfigError, match="^TANDEM_TIMEZONE: "):
        load_settings(DigestSettings, env_file=None)


class TimeMachine:
    """A clock and a sleep that moves it, so the scheduler runs for weeks in no time."""

    def __init__(self, start: datetime):
        self.now = start

    def clock(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def test_a_digest_missed_while_down_is_posted_at_start():
    """Down over Monday 09:00 (a deploy), back at 11:00: that week's digest goes out at once, then on schedule."""
    last_monday = datetime(2025, 3, 3, 14, tzinfo=UTC)  # Mon 03 09:00 EST
    tm = TimeMachine(datetime(2025, 3, 10, 15, tzinfo=UTC))  # Mon 10 11:00 EDT
    posted, recorded = [], []

    async def post(fire: datetime) -> None:
        posted.append((fire, tm.now))

    scheduler = DigestScheduler(post, "0 9 * * 1", NY, clock=tm.clock, sleep=tm.sleep, last_posted=last_monday,
                                catch_up=timedelta(hours=24), record=recorded.append)
    await scheduler.run(max_posts=2)
    assert [(f.astimezone(NY).strftime("%a %d %H:%M"), at.astimezone(NY).strftime("%a %d %H:%M")) for f, at in posted] == [
        ("Mon 10 09:00", "Mon 10 11:00"), ("Mon 17 09:00", "Mon 17 09:00")]
    assert recorded == [f for f, _ in posted]


async def test_no_catch_up_when_too_late_already_posted_or_a_post_failed():
    tm = TimeMachine(datetime(2025, 3, 11, 14, tzinfo=UTC))  # Tue 11 10:00 EDT: 25 hours after Monday 09:00
    posted = []

    async def post(fire: datetime) -> None:
        posted.append(fire)

    late = DigestScheduler(post, "0 9 * * 1", NY, clock=tm.clock, sleep=tm.sleep,
                           last_posted=datetime(2025, 3, 3, 14, tzinfo=UTC), catch_up=timedelta(hours=24))
    assert late.missed() is None
    done = DigestScheduler(post, "0 9 * * 1", NY, clock=tm.clock, sleep=tm.sleep,
                           last_posted=datetime(2025, 3, 10, 13, tzinfo=UTC), catch_up=timedelta(hours=48))
    assert done.missed() is None  # that Monday's digest went out before the restart
    off = DigestScheduler(post, "0 9 * * 1", NY, clock=tm.clock, sleep=tm.sleep,
                          last_posted=datetime(2025, 3, 3, 14, tzinfo=UTC), catch_up=timedelta(0))
    assert off.missed() is None

    recorded = []

    async def failing(fire: datetime) -> None:
        raise RuntimeError("platform down")

    failed = DigestScheduler(failing, "0 9 * * 1", NY, clock=tm.clock, sleep=tm.sleep,
                             last_posted=datetime(2025, 3, 3, 14, tzinfo=UTC), catch_up=timedelta(hours=48),
                             record=recorded.append)
    await failed.run(max_posts=1)
    assert len(failed.fired) == 1 and recorded == []  # a failed post is not marked as done


def test_catch_up_hours_setting(monkeypatch):
    assert load_settings(DigestSettings, env_file=None).tandem_digest_catchup_hours == 24
    monkeypatch.setenv("TANDEM_DIGEST_CATCHUP_HOURS", "-1")
    with pytest.raises(ConfigError, match="^TANDEM_DIGEST_CATCHUP_HOURS: "):
        load_settings(DigestSettings, env_file=None)
