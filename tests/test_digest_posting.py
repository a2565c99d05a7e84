"""The digest reaches the agent channels: through the core's outbox, the real Slack and Discord adapters
(slack_sdk, discord.py) and the fake platforms, as Block Kit + PNG upload and as an embed + attached PNG."""
from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.config import load_settings
from bot.digest.publish import post_digest
from bot.digest.schedule import service
from bot.digest.seed import seed_database
from bot.digest.settings import DigestSettings
from storage import Store
from tests.discord_harness import Desk, until
from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.slack_client import SlackHarness

NOW = datetime(2026, 11, 23, tzinfo=timezone.utc)  # a Monday midnight: the week before it


def _settings() -> DigestSettings:
    return load_settings(DigestSettings, env_file=None)


async def test_digest_posted_to_slack_as_block_kit_with_the_chart(tmp_path):
    async with SlackHarness(tmp_path) as slack:
        seed_database(lambda clock: Store(slack.core.store.db, clock), days=7, per_day=12, now=NOW)
        ids = await post_digest(slack.core, _settings(), now=NOW)
        assert len(ids) == 1
        await slack.settle()
        post = slack.api.called("chat.postMessage")[-1].params
        blocks = post["blocks"]
        assert post["channel"] == slack.adapter.settings.slack_agent_channel
        assert blocks[0]["type"] == "header" and "Tandem weekly digest" in blocks[0]["text"]["text"]
        assert any("Acceptance" in f["text"] for b in blocks for f in b.get("fields", []))
        gaps = next(b["text"]["text"] for b in blocks if "Knowledge-base gaps" in b.get("text", {}).get("text", ""))
        assert re.search(r"agent answer in conversation #(\d+): `teach \1`", gaps), gaps  # what an agent answered
        assert slack.api.called("files.completeUploadExternal")
        png = list(slack.api.uploads.values())[0]
        assert png.startswith(b"\x89PNG") and len(png) > 10_000
        image = slack.core.store.db.execute("SELECT payload FROM outbox WHERE kind = 'post_report'").fetchone()[0]
        assert '"image_path"' in image and Path(tmp_path / "reports").is_dir()


async def test_digest_posted_to_discord_as_embed_with_the_chart(tmp_path):
    fake = await FakeDiscord().start()
    desk = await Desk(fake, str(tmp_path / "t.db")).start()
    try:
        seed_database(lambda clock: Store(desk.core.store.db, clock), days=7, per_day=12, now=NOW)
        await post_digest(desk.core, _settings(), now=NOW)
        calls = await until(lambda: [c for c in fake.find("POST", rf"/channels/{desk.world.agent_channel}/messages")
                                     if c.json and c.json.get("embeds")], what="digest embed")
        message = calls[-1].json
        embed = message["embeds"][0]
        assert "Tandem weekly digest" in embed["title"]
        assert any(f["name"] == "Acceptance" for f in embed["fields"])
        gaps = next(f["value"] for f in embed["fields"] if f["name"].startswith("Knowledge-base gaps"))
        assert re.search(r"agent answer in conversation #(\d+): `teach \1`", gaps), gaps
        assert message["files"][0]["filename"].endswith(".png")
        assert embed["image"]["url"] == f"attachment://{message['files'][0]['filename']}"
        assert message["allowed_mentions"] == {"parse": []}  # a report pings nobody
    finally:
        await desk.stop()
        await fake.stop()


async def test_scheduled_service_posts_on_time_through_the_outbox(tmp_path):
    """runtime's SERVICES entry: service(core) -> coroutine posting at TANDEM_DIGEST_CRON, here by time travel."""
    async with SlackHarness(tmp_path) as slack:
        now = [datetime(2026, 11, 22, 20, tzinfo=timezone.utc)]  # Sunday evening
        monday_nine = datetime(2026, 11, 23, 9, tzinfo=timezone.utc)

        async def sleep(seconds: float) -> None:
            if now[0] >= monday_nine:  # after the first post: stay put until cancelled
                await asyncio.sleep(3600)
            now[0] += timedelta(seconds=seconds)

        task = asyncio.create_task(service(slack.core, _settings(), clock=lambda: now[0], sleep=sleep))
        try:
            await until(lambda: slack.core.store.db.execute(
                "SELECT count(*) FROM outbox WHERE kind = 'post_report'").fetchone()[0] == 1, what="scheduled digest")
            assert now[0] == monday_nine
            await slack.settle()
            assert slack.api.called("files.completeUploadExternal")
        finally:
            task.cancel()


async def test_restart_after_a_missed_digest_posts_it_once(tmp_path):
    """The last digest posted is kept in SQLite: a restart after a missed Monday posts it, a second restart does not."""
    from bot.digest.schedule import LAST_POSTED

    async with SlackHarness(tmp_path) as slack:
        store = slack.core.store
        now = [datetime(2026, 11, 22, 20, tzinfo=timezone.utc)]  # Sunday evening: first start ever

        async def stay(seconds: float) -> None:
            await asyncio.sleep(3600)

        def reports() -> int:
            return store.db.execute("SELECT count(*) FROM outbox WHERE kind = 'post_report'").fetchone()[0]

        first = asyncio.create_task(service(slack.core, _settings(), clock=lambda: now[0], sleep=stay))
        await asyncio.sleep(0.05)
        first.cancel()
        assert store.setting(LAST_POSTED) == now[0].isoformat() and reports() == 0  # nothing owed on a first start

        now[0] = datetime(2026, 11, 23, 10, 30, tzinfo=timezone.utc)  # down over Monday 09:00, back at 10:30
        second = asyncio.create_task(service(slack.core, _settings(), clock=lambda: now[0], sleep=stay))
        await until(lambda: reports() == 1, what="caught-up digest")
        second.cancel()
        assert store.setting(LAST_POSTED) == datetime(2026, 11, 23, 9, tzinfo=timezone.utc).isoformat()
        await slack.settle()
        assert slack.api.called("files.completeUploadExternal")

        third = asyncio.create_task(service(slack.core, _settings(), clock=lambda: now[0], sleep=stay))
        await asyncio.sleep(0.05)
        third.cancel()
        assert reports() == 1  # posted once, not again on the next restart
