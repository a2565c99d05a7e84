"""GET /healthz reports every configured platform and answers 503 while one is down; it is served whatever
runs: Discord only, Slack over Socket Mode (tandem/runtime.py starts a server of its own for these) or Slack
over HTTP (the Slack server answers it). Real servers and clients on 127.0.0.1."""
from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp
import pytest

from adapters.discord.adapter import DiscordAdapter
from adapters.slack.adapter import SlackAdapter
from adapters.slack.config import SlackSettings
from bot.config import load_settings
from tandem.runtime import build_core, serve
from tests.discord_harness import discord_settings
from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_client import AGENT, AGENTS, SUPPORT

KB = Path(__file__).parent / "fixtures" / "kb"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Running:
    """`serve()` in a task, as `tandem run` runs it, with the health URL to poll."""

    def __init__(self, tmp_path: Path, make_adapters):
        self.port = free_port()
        settings = load_settings(env_file=None, tandem_db=str(tmp_path / "t.db"), tandem_kb=str(KB),
                                 tandem_http_port=self.port)
        self.core = build_core(settings)
        self.adapters = make_adapters()
        self.url = f"http://127.0.0.1:{self.port}/healthz"

    async def __aenter__(self) -> "Running":
        self.stop = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(serve(self.core, self.adapters, until=self.stop))
        self.session = aiohttp.ClientSession()
        return self

    async def health(self) -> tuple[int, dict]:
        async with self.session.get(self.url) as resp:
            return resp.status, await resp.json()

    async def wait_status(self, status: int, timeout: float = 20.0) -> dict:
        deadline = asyncio.get_running_loop().time() + timeout
        last = None
        while asyncio.get_running_loop().time() < deadline:
            try:
                last = await self.health()
                if last[0] == status:
                    return last[1]
            except aiohttp.ClientConnectionError:
                pass
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.1)
        raise AssertionError(f"/healthz never answered {status}; last: {last}")

    async def __aexit__(self, *exc) -> None:
        await self.session.close()
        self.stop.set_result(None)
        await asyncio.wait_for(self.task, 15)


@pytest.fixture
async def fake():
    f = await FakeDiscord().start()
    yield f
    await f.stop()


async def test_discord_only_healthz_is_served_and_is_503_while_discord_is_down(fake, tmp_path):
    make = lambda: [DiscordAdapter(discord_settings(fake), ready_timeout=10, guild_ready_timeout=0.05)]  # noqa: E731
    async with Running(tmp_path, make) as run:
        body = await run.wait_status(200)
        assert body["platforms"]["discord"]["connected"] is True
        assert body["platforms"]["discord"]["outbox_backlog"] == 0
        fake.refuse_gateway = True
        await fake.drop_connection()
        down = await run.wait_status(503)
        assert down["ok"] is False and down["platforms"]["discord"]["connected"] is False
        fake.refuse_gateway = False
        up = await run.wait_status(200, timeout=30)
        assert up["platforms"]["discord"]["connected"] is True
        assert fake.resumes, "came back by RESUME"


async def test_socket_mode_healthz_is_served(tmp_path):
    api = await FakeSlackAPI().start()
    try:
        settings = SlackSettings(_env_file=None, slack_bot_token="xoxb-test", slack_app_token="xapp-1-A0TANDEM-1-abc",
                                 slack_api_url=api.base_url, slack_support_channels=SUPPORT,
                                 slack_agent_channel=AGENTS, slack_agent_users=AGENT).check()
        async with Running(tmp_path, lambda: [SlackAdapter(settings)]) as run:
            body = await run.wait_status(200)
            assert body["platforms"]["slack"]["connected"] is True
            assert run.adapters[0].port is None, "no Slack HTTP server in Socket Mode; the health server is runtime's"
    finally:
        await api.stop()


async def test_slack_http_server_answers_healthz_for_every_platform_and_no_second_server_starts(fake, tmp_path):
    api = await FakeSlackAPI().start()
    try:
        slack_port = free_port()
        settings = SlackSettings(_env_file=None, slack_bot_token="xoxb-test", slack_signing_secret="s" * 32,
                                 slack_api_url=api.base_url, slack_support_channels=SUPPORT,
                                 slack_agent_channel=AGENTS, slack_agent_users=AGENT,
                                 tandem_http_port=slack_port).check()
        make = lambda: [SlackAdapter(settings),  # noqa: E731
                        DiscordAdapter(discord_settings(fake), ready_timeout=10, guild_ready_timeout=0.05)]
        async with Running(tmp_path, make) as run:
            run.url = f"http://127.0.0.1:{slack_port}/healthz"
            body = await run.wait_status(200)
            assert set(body["platforms"]) == {"slack", "discord"}
            with pytest.raises(aiohttp.ClientConnectionError):  # runtime's own server is not started
                async with run.session.get(f"http://127.0.0.1:{run.port}/healthz"):
                    pass
    finally:
        await api.stop()


async def test_healthz_counts_the_outbox_backlog_per_platform(tmp_path):
    from adapters.http_health import HealthServer
    from tests.conftest import RecordingAdapter, make_settings
    from vocab import OutboxKind

    core = build_core(make_settings(tmp_path))  # not started: nothing delivers, the rows stay pending
    core.register(RecordingAdapter())
    for n in range(2):
        core.store.enqueue_action("test", OutboxKind.POST_REPORT, {"channel": "agents", "text": f"report {n}"})
    server = HealthServer(core, "127.0.0.1", 0)
    await server.start()
    try:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{server.port}/healthz") as resp:
            body = await resp.json()
            assert resp.status == 200
        assert body["platforms"]["test"] == {"connected": True, "last_event_at": None, "outbox_backlog": 2}
    finally:
        await server.stop()
        core.store.db.conn.close()


async def test_a_port_in_use_is_a_start_up_error_naming_the_setting(tmp_path):
    from adapters.http_health import HealthServer
    from bot.config import ConfigError
    from tests.conftest import make_settings

    core = build_core(make_settings(tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ConfigError, match="TANDEM_HTTP_PORT"):
            await HealthServer(core, "127.0.0.1", taken.getsockname()[1]).start()
    core.store.db.conn.close()
