"""Test harness for the Discord adapter: a fake Discord, a real core on a SQLite file, and the real discord.py.

`Desk` starts them together and offers the waits the tests need (an event recorded, a REST call made, the
core idle), so tests read as the scenario they check.
"""
from __future__ import annotations

from pathlib import Path
import asyncio
import time
from typing import Callable

from adapters.discord.adapter import DiscordAdapter
from adapters.discord.config import DiscordSettings
from bot.config import load_settings
from tandem.runtime import build_core
from tests.fakes.discord_fake import FakeDiscord

TOKEN = "fake-token-0123456789.abcdefghijklmnop"


def discord_settings(fake: FakeDiscord, **overrides) -> DiscordSettings:
    w = fake.world
    values = dict(discord_token=TOKEN, discord_support_channels=f"{w.support_channel},{w.forum_channel}",
                  discord_agent_channel=w.agent_channel, discord_agent_role=w.agent_role,
                  discord_lead_role=w.lead_role, discord_guild_id=w.guild_id, discord_api_url=fake.api_url)
    values.update(overrides)
    return load_settings(DiscordSettings, None, **values)


async def until(check: Callable[[], object], timeout: float = 5.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class Desk:
    def __init__(self, fake: FakeDiscord, db_path: str, clock=None, **overrides):
        self.fake = fake
        self.world = fake.world
        settings = load_settings(env_file=None, **{"tandem_db": db_path,
                                                   "tandem_kb": str(Path(__file__).parent / "fixtures" / "kb"),
                                                   **overrides})
        self.core = build_core(settings, clock=clock)
        self.adapter: DiscordAdapter | None = None

    async def start(self) -> "Desk":
        await self.core.start()
        await self.connect()
        return self

    async def connect(self) -> DiscordAdapter:
        self.adapter = DiscordAdapter(discord_settings(self.fake), ready_timeout=10, guild_ready_timeout=0.05)
        self.core.register(self.adapter)
        await self.adapter.start(self.core)
        return self.adapter

    async def restart_adapter(self) -> DiscordAdapter:
        await self.adapter.stop()
        return await self.connect()

    async def stop(self) -> None:
        if self.adapter is not None:
            await self.adapter.stop()
        await self.core.stop()

    def inbox_count(self) -> int:
        return self.core.store.db["inbox"].count

    async def send(self, event: str, data: dict, *, recorded: bool = True) -> None:
        """Push a gateway event; for messages wait until the core has it (recorded or deduplicated)."""
        before = self.inbox_count()
        await self.fake.dispatch(event, data)
        if recorded:
            await until(lambda: self.inbox_count() > before, what=f"{event} recorded")
        await self.core.wait_idle()

    async def idle(self) -> None:
        await asyncio.sleep(0.05)
        await self.core.wait_idle()


def card_of(fake: FakeDiscord) -> dict:
    """The latest review card the bot posted in the staff channel, as the fake holds it (edits applied)."""
    cards = [m for m in fake.messages.values() if m["channel_id"] == fake.world.agent_channel and m["embeds"]]
    assert cards, "no review card posted"
    return cards[-1]


def buttons(card: dict) -> dict[str, str]:
    """A posted card's buttons: label -> custom id."""
    return {c["label"]: c["custom_id"] for row in card["components"] for c in row["components"] if c["type"] == 2}


def menus(card: dict) -> list[dict]:
    """A posted card's select menus (component type 3), as the fake holds them."""
    return [c for row in card["components"] for c in row["components"] if c["type"] == 3]
