"""GET /metrics: the Prometheus text format, parsed by prometheus_client's own parser, on every HTTP server
Tandem runs (the stand-alone health server, the Slack HTTP server). What it reports from the database is
checked against the database itself, read here with plain SQL; what only the process sees (drafting and
acknowledgement latency, platform connections) is checked by count, never by duration."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from adapters.discord.adapter import DiscordAdapter
from adapters.http_health import HealthServer
from bench.intake import sample_questions
from tests.conftest import AGENT, FIXTURE_KB, Clock, customer_message, make_settings, start_core
from tests.discord_harness import discord_settings, until
from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.slack_client import SlackHarness
from tests.test_healthz import Running
from vocab import DeliveryError

N = 30
PERSON = "I want to talk to a real person"


def parse(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} for every sample of the exposition."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def by(samples: dict, name: str, label: str) -> dict[str, float]:
    return {dict(labels)[label]: value for (n, labels), value in samples.items() if n == name}


async def scrape(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, resp.headers["Content-Type"], await resp.text()


def database(path: str) -> dict:
    """The same numbers, read straight from the SQLite file."""
    db = sqlite3.connect(path)
    try:
        def grouped(sql: str) -> dict[str, float]:
            return {k: float(n) for k, n in db.execute(sql)}
        return {
            "inbox": db.execute("SELECT count(*) FROM inbox WHERE status = 'pending'").fetchone()[0],
            "drafts": grouped("SELECT status, count(*) FROM drafts GROUP BY status"),
            "handoffs": grouped("SELECT json_extract(details, '$.reason'), count(*) FROM events "
                                "WHERE action = 'handoff' GROUP BY 1"),
            "outbox_pending": grouped("SELECT platform, count(*) FROM outbox WHERE status IN ('pending', 'sending') "
                                      "GROUP BY platform"),
            "outbox_failed": grouped("SELECT platform, count(*) FROM outbox WHERE status = 'failed' GROUP BY platform"),
            "drafted": db.execute("SELECT count(*) FROM drafts WHERE latency_ms IS NOT NULL").fetchone()[0],
        }
    finally:
        db.close()


async def test_metrics_scraped_during_a_burst_match_the_database(tmp_path):
    clock = Clock()
    settings = make_settings(tmp_path)
    core = await start_core(settings, clock=clock)
    server = HealthServer(core, "127.0.0.1", 0)
    await server.start()
    url = f"http://127.0.0.1:{server.port}/metrics"
    try:
        questions = sample_questions(FIXTURE_KB)
        for i in range(N):  # nothing here yields to the core's tasks: all N are still pending
            await core.receive(customer_message(questions[i % len(questions)], f"c{i}"))
        for who in ("bob", "dee", "eve"):
            await core.receive(customer_message(PERSON, who))
        during = parse(core.metrics.render().decode())
        assert during[("tandem_inbox_backlog", ())] == database(settings.tandem_db)["inbox"] == N + 3

        status, content_type, text = await scrape(url)  # over HTTP, while the core works through the burst
        assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
        assert 0 <= parse(text)[("tandem_inbox_backlog", ())] <= N + 3
        await core.wait_idle(timeout=30)

        pending = [r["id"] for r in core.store.db.query("SELECT id FROM drafts WHERE status = 'pending' ORDER BY id")]
        assert len(pending) >= 3, "the fixture KB's answers wait for review in the default mode"
        assert (await core.execute(AGENT, f"approve {pending[0]}")).ok
        assert (await core.execute(AGENT, f"reject {pending[1]} not quite")).ok
        core.test_adapter.failures.append(DeliveryError("channel archived", retry=False))
        assert (await core.execute(AGENT, f"approve {pending[2]}")).ok
        await core.wait_idle()
        clock.advance(minutes=10)

        status, _, text = await scrape(url)
        assert status == 200
        got, want = parse(text), database(settings.tandem_db)
        assert got[("tandem_inbox_backlog", ())] == want["inbox"] == 0
        assert by(got, "tandem_drafts", "status") == want["drafts"]
        assert {"approved", "rejected", "pending"} <= set(want["drafts"])
        assert by(got, "tandem_handoffs_total", "reason") == want["handoffs"]
        assert want["handoffs"].get("asked_for_human") == 3
        assert by(got, "tandem_outbox_backlog", "platform") == {"test": want["outbox_pending"].get("test", 0.0)}
        assert by(got, "tandem_outbox_failed", "platform") == {"test": 1.0} == want["outbox_failed"]
        queue = core.store.conversations_needing_agent()
        assert got[("tandem_conversations_waiting", ())] == len(queue) > 0
        assert got[("tandem_oldest_wait_seconds", ())] == 600.0  # every wait began before the clock moved
        assert got[("tandem_draft_seconds_count", ())] == want["drafted"] == N
        assert by(got, "tandem_platform_connected", "platform") == {"test": 1.0}
    finally:
        await server.stop()
        await core.stop()


async def test_two_cores_in_one_process_keep_their_own_numbers(tmp_path):
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
    one, two = await start_core(make_settings(tmp_path / "one")), await start_core(make_settings(tmp_path / "two"))
    try:
        await one.receive(customer_message(PERSON, "bob"))
        await one.wait_idle()
        assert by(parse(one.metrics.render().decode()), "tandem_handoffs_total", "reason") == {"asked_for_human": 1.0}
        assert by(parse(two.metrics.render().decode()), "tandem_handoffs_total", "reason") == {}
    finally:
        await one.stop()
        await two.stop()


async def test_discord_only_metrics_are_served_by_the_stand_alone_server(tmp_path):
    fake = await FakeDiscord().start()
    try:
        make = lambda: [DiscordAdapter(discord_settings(fake), ready_timeout=10, guild_ready_timeout=0.05)]  # noqa: E731
        async with Running(tmp_path, make) as run:
            await run.wait_status(200)
            await fake.dispatch("MESSAGE_CREATE", fake.world.customer_message(fake.world.support_channel, PERSON))
            await until(lambda: run.core.store.watch_snapshot().handoffs, what="the handoff")
            await run.core.wait_idle()
            status, _, text = await scrape(f"http://127.0.0.1:{run.port}/metrics")
            assert status == 200
            got = parse(text)
            assert by(got, "tandem_platform_connected", "platform") == {"discord": 1.0}
            assert by(got, "tandem_ack_seconds_count", "platform") == {"discord": 1.0}
            assert by(got, "tandem_handoffs_total", "reason") == {"asked_for_human": 1.0}
            assert by(got, "tandem_outbox_backlog", "platform") == {"discord": 0.0}
            fake.refuse_gateway = True
            await fake.drop_connection()
            await run.wait_status(503)
            _, _, text = await scrape(f"http://127.0.0.1:{run.port}/metrics")
            assert by(parse(text), "tandem_platform_connected", "platform") == {"discord": 0.0}
            fake.refuse_gateway = False
    finally:
        await fake.stop()


async def test_the_slack_http_server_answers_metrics_and_times_each_acknowledgement(tmp_path):
    async with SlackHarness(tmp_path) as slack:
        for text in ("How does pay in 4 work?", PERSON, "Can I change my payment date?"):
            await slack.say(text, user=f"U{len(text)}")
        await slack.settle()
        status, _, text = await scrape(slack.url + "/metrics")
        assert status == 200
        got, want = parse(text), database(str(Path(tmp_path) / "t.db"))
        assert by(got, "tandem_ack_seconds_count", "platform") == {"slack": 3.0}
        assert by(got, "tandem_drafts", "status") == want["drafts"]
        assert by(got, "tandem_handoffs_total", "reason") == want["handoffs"]
        assert by(got, "tandem_platform_connected", "platform") == {"slack": 1.0}


async def test_a_scrape_that_cannot_read_the_store_is_a_503_not_a_crash(tmp_path):
    core = await start_core(make_settings(tmp_path))
    server = HealthServer(core, "127.0.0.1", 0)
    await server.start()
    try:
        core.store.db.execute("ALTER TABLE drafts RENAME TO drafts_gone")
        status, _, text = await scrape(f"http://127.0.0.1:{server.port}/metrics")
        assert status == 503 and "could not collect" in text
    finally:
        core.store.db.execute("ALTER TABLE drafts_gone RENAME TO drafts")
        await server.stop()
        await core.stop()
