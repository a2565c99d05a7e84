"""Shared fixtures: a clean environment, a real SQLite file per test, and a started core.

`RecordingAdapter` is a real adapter (the collecting output channel): it records every action the
outbox delivers, and can be told to fail, so tests observe exactly what a platform would receive.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from vocab import Actor, Address, Delivery, DeliveryError, InboundMessage, NotifyAgents, Role, SendMessage, UpsertCard
from tandem.runtime import build_core

FIXTURE_KB = Path(__file__).parent / "fixtures" / "kb"
_PREFIXES = ("TANDEM_", "OPENAI_", "SLACK_", "DISCORD_")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith(_PREFIXES):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    yield


class Clock:
    """A clock tests can move; starts on a Wednesday inside support hours."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> None:
        self.now += timedelta(**kwargs)


class RecordingAdapter:
    platform = "test"

    def __init__(self):
        self.sent: list[SendMessage] = []
        self.cards: list[UpsertCard] = []
        self.reports: list = []
        self.notices: list = []  # NotifyAgents: assignments and response-time alerts
        self.failures: list[DeliveryError] = []  # raised, one per message delivery, before succeeding
        self.core = None
        self._n = 0

    async def start(self, core) -> None:
        self.core = core

    async def stop(self) -> None:
        pass

    async def deliver(self, action):
        if self.failures and isinstance(action, SendMessage):
            raise self.failures.pop(0)
        self._n += 1
        if isinstance(action, SendMessage):
            self.sent.append(action)
        elif isinstance(action, UpsertCard):
            self.cards.append(action)
            return Delivery(ref=action.ref or f"card-{self._n}", channel="agents")
        elif isinstance(action, NotifyAgents):
            self.notices.append(action)
        else:
            self.reports.append(action)
        return Delivery(ref=f"msg-{self._n}", channel=action.address.channel if hasattr(action, "address") else "")

    def texts(self, channel: str | None = None) -> list[str]:
        return [a.text for a in self.sent if channel is None or a.address.channel == channel]


def make_settings(tmp_path: Path, **overrides) -> Settings:
    values = {"tandem_db": str(tmp_path / "tandem.db"), "tandem_kb": FIXTURE_KB,
              "tandem_support_hours": "24/7"}
    values.update(overrides)
    return load_settings(Settings, env_file=None, **values)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path)


async def start_core(settings: Settings, clock=None, drafter=None):
    """Build and start a core with a RecordingAdapter registered (as `core.test_adapter`)."""
    core = build_core(settings, clock=clock, drafter=drafter)
    adapter = RecordingAdapter()
    core.register(adapter)
    await adapter.start(core)
    await core.start()
    core.test_adapter = adapter
    return core


@pytest.fixture
async def core(settings, clock):
    core = await start_core(settings, clock)
    yield core
    await core.stop()


AGENT = Actor("test", "U-AGENT", "ana", Role.AGENT)
LEAD = Actor("test", "U-LEAD", "leo", Role.LEAD)
_counter = iter(range(1, 10_000_000))


async def start_console(core, agent_name: str = "ana"):
    """A console adapter on `core` writing into a buffer (100 columns, no colour), both started: (console, out)."""
    import io

    from rich.console import Console

    from adapters.console import ConsoleAdapter

    out = io.StringIO()
    console = ConsoleAdapter(stdin=io.StringIO(""), out=Console(file=out, width=100, color_system=None),
                             agent_name=agent_name)
    core.register(console)
    await console.start(core)
    await core.start()
    return console, out


def customer_message(text: str, who: str = "cara", *, event_id: str | None = None, attachments: int = 0,
                     thread: str = "", role: Role = Role.CUSTOMER, user: str | None = None,
                     kind: str = "message", message_id: str = "") -> InboundMessage:
    n = next(_counter)
    return InboundMessage(
        event_id=event_id or f"ev-{n}",
        address=Address("test", channel=f"C-{who}", thread=thread),
        author=Actor("test", user or f"U-{who}", who, role),
        text=text,
        message_id=message_id or f"m-{n}",
        attachments=attachments,
        kind=kind,
    )


async def say(core, text: str, who: str = "cara", **kwargs):
    receipt = await core.receive(customer_message(text, who, **kwargs))
    await core.wait_idle()
    return receipt


def conv_of(core, who: str = "cara", thread: str = ""):
    return core.store.latest_conversation_at(Address("test", channel=f"C-{who}", thread=thread))
