"""The retention purge: old customer texts and raw payloads go, the digest's figures stay; and the daily service."""
from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import datetime, timedelta, timezone

from bot import retention
from bot.digest.figures import build_digest
from bot.digest.seed import seed_database
from storage import Store
from storage.analytics import Analytics
from tests.conftest import AGENT, Clock, conv_of, make_settings, say, start_core
from vocab.times import iso

T0 = datetime(2026, 10, 5, 10, 0, tzinfo=timezone.utc)  # a Monday
WEEK_END = datetime(2026, 10, 12, tzinfo=timezone.utc)  # the local midnight the scheduled digest passes


def _figures(db) -> dict:
    digest = dataclasses.asdict(build_digest(Analytics(db), days=7, tz="UTC", now=WEEK_END))
    gaps = digest["current"].pop("kb_gaps")
    return {"digest": digest, "gaps": gaps}


def _rows(db, sql: str) -> list[tuple]:
    return db.execute(sql).fetchall()


async def test_purge_keeps_the_digest_figures_and_removes_old_texts(tmp_path):
    clock = Clock(T0)
    core = await start_core(make_settings(tmp_path), clock)
    try:
        db = core.store.db
        seed_database(lambda c: Store(db, c), days=7, per_day=20, now=WEEK_END - timedelta(hours=1))
        await say(core, "How does pay in 4 work? I am Jane Doe, order 4411", who="jane")
        draft = core.store.pending_draft(conv_of(core, "jane").id)
        assert (await core.invoke(AGENT, "approve", {"draft": draft.id})).ok  # sent: an outbox row, delivered
        await core.wait_idle()
        before = _figures(db)
        assert before["gaps"], "the seeded week has knowledge-base gaps (their questions are customer texts)"

        clock.advance(days=40)
        await say(core, "Hello again, a question from today", who="kim")  # recent: kept
        counts = core.store.purge_before(iso(clock() - timedelta(days=30)))
        after = _figures(db)
    finally:
        await core.stop()

    assert after["digest"] == before["digest"]  # counts, times, statuses, edit shares, ratings, agents, days
    # the gaps' questions are customer texts: gone with them, but for conversations a person still handles
    assert sum(g["count"] for g in after["gaps"]) < sum(g["count"] for g in before["gaps"])
    assert counts["messages"] > 0 and counts["drafts"] > 0 and counts["inbox_payloads"] > 0
    old = iso(T0 + timedelta(days=10))
    kept = _rows(db, f"SELECT m.text FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                     f"WHERE m.created_at < '{old}' AND m.text != '' AND c.state NOT IN ('waiting_human', 'human') "
                     "AND NOT EXISTS (SELECT 1 FROM drafts o WHERE o.conversation_id = c.id "
                     "AND o.status IN ('drafting', 'pending'))")
    assert kept == []
    assert not _rows(db, "SELECT 1 FROM messages WHERE text LIKE '%Jane Doe%'")
    assert not _rows(db, "SELECT 1 FROM inbox WHERE payload LIKE '%Jane Doe%'")
    assert not _rows(db, f"SELECT 1 FROM inbox WHERE received_at < '{old}' AND payload != '{{}}'")
    assert not _rows(db, f"SELECT 1 FROM drafts WHERE created_at < '{old}' AND status NOT IN ('drafting', 'pending') "
                         "AND (text IS NOT NULL OR final_text IS NOT NULL)")
    assert not _rows(db, f"SELECT 1 FROM outbox WHERE created_at < '{old}' AND status = 'sent'")
    assert _rows(db, "SELECT 1 FROM messages WHERE text = 'Hello again, a question from today' AND purged_at IS NULL")
    assert _rows(db, "SELECT 1 FROM inbox WHERE payload LIKE '%question from today%'")
    purge_rows = core.store.events_named("purge")
    assert len(purge_rows) == 1
    details = json.loads(purge_rows[0]["details"])
    assert details["messages"] == counts["messages"] and details["before"] == iso(clock() - timedelta(days=30))

    again = Store(db, clock).purge_before(iso(clock() - timedelta(days=30)))
    assert set(again.values()) == {0}  # nothing purged twice


async def test_purge_spares_a_conversation_a_person_is_handling(tmp_path):
    clock = Clock(T0)
    core = await start_core(make_settings(tmp_path), clock)
    try:
        await say(core, "I want to talk to a human about my refund", who="ham")
        conv = conv_of(core, "ham")
        assert conv.state == "waiting_human"
        clock.advance(days=90)
        core.store.purge_before(iso(clock() - timedelta(days=30)))
        texts = [r[0] for r in _rows(core.store.db, f"SELECT text FROM messages WHERE conversation_id = {conv.id} "
                                                    "AND author_kind = 'customer'")]
    finally:
        await core.stop()
    assert texts == ["I want to talk to a human about my refund"]


async def _answered(core, text: str, who: str) -> None:
    """A customer question whose draft an agent approved: nothing about it is open any more."""
    await say(core, text, who=who)
    draft = core.store.pending_draft(conv_of(core, who).id)
    assert (await core.invoke(AGENT, "approve", {"draft": draft.id})).ok
    await core.wait_idle()


class TravellingClock:
    """Sleeping moves the clock; after `pause_after` purges the sleeper stops (a test then cancels)."""

    def __init__(self, clock: Clock, store, pause_after: int):
        self.clock, self.store, self.pause_after = clock, store, pause_after
        self.naps: list[float] = []
        self.purges_at_first_nap: int | None = None

    async def sleep(self, seconds: float) -> None:
        purges = len(self.store.events_named("purge"))
        if self.purges_at_first_nap is None:
            self.purges_at_first_nap = purges
        if purges >= self.pause_after:
            await asyncio.Event().wait()
        self.naps.append(seconds)
        self.clock.advance(seconds=seconds)
        await asyncio.sleep(0)


async def _until(check, what: str, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def test_the_service_purges_at_start_then_daily_and_not_again_after_a_restart(tmp_path):
    clock = Clock(T0)
    settings = make_settings(tmp_path, tandem_retention_days=30)
    core = await start_core(settings, clock)
    try:
        await _answered(core, "How does pay in 4 work? (an old question)", "old")
        clock.advance(days=10)
        await _answered(core, "How does pay in 4 work? (a newer question)", "new")
        clock.advance(days=21)  # the first is 31 days old, the second 21
        travel = TravellingClock(clock, core.store, pause_after=11)
        task = asyncio.create_task(retention.service(core, clock=clock, sleep=travel.sleep))
        await _until(lambda: len(core.store.events_named("purge")) >= 11, "eleven daily purges")
        task.cancel()
        texts = dict(_rows(core.store.db, "SELECT text, purged_at FROM messages WHERE author_kind = 'customer'"))
        purges = [json.loads(e["details"]) for e in core.store.events_named("purge")]
        first_at = core.store.events_named("purge")[0]["at"]

        restarted = TravellingClock(clock, core.store, pause_after=0)
        task = asyncio.create_task(retention.service(core, clock=clock, sleep=restarted.sleep))
        await _until(lambda: restarted.purges_at_first_nap is not None, "the restarted service to wait")
        task.cancel()
    finally:
        await core.stop()

    assert first_at == iso(T0 + timedelta(days=31))  # at start-up: no purge had ever run
    assert purges[0]["messages"] == 2 and purges[0]["before"] == iso(T0 + timedelta(days=1))
    assert sum(p["messages"] for p in purges[1:]) == 2  # the newer question and reply, at 30 days old
    assert not [t for t in texts if "question" in t]
    assert sum(travel.naps) == 10 * 24 * 3600  # one day between purges, in naps of at most an hour
    assert max(travel.naps) <= retention.MAX_NAP
    assert restarted.purges_at_first_nap == 11  # a restart within the day waits instead of purging again


async def test_no_retention_setting_means_no_purge(tmp_path):
    core = await start_core(make_settings(tmp_path), Clock(T0))
    try:
        await say(core, "keep me", who="keep")
        await retention.service(core)  # returns at once
        assert core.store.events_named("purge") == []
    finally:
        await core.stop()


def test_retention_setting_is_validated():
    import pytest

    from bot.config import ConfigError, Settings, load_settings

    assert load_settings(Settings, env_file=None, tandem_retention_days="").tandem_retention_days is None
    assert load_settings(Settings, env_file=None, tandem_retention_days="90").tandem_retention_days == 90
    with pytest.raises(ConfigError, match="TANDEM_RETENTION_DAYS"):
        load_settings(Settings, env_file=None, tandem_retention_days="0")


async def test_a_retention_shorter_than_the_digest_period_is_warned_about(tmp_path, caplog):
    core = await start_core(make_settings(tmp_path, tandem_retention_days=5), Clock(T0))
    try:
        retention.service(core).close()  # built, not run
    finally:
        await core.stop()
    assert "TANDEM_RETENTION_DAYS (5) is not above TANDEM_DIGEST_DAYS (7)" in caplog.text
