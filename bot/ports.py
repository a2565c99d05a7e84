"""The contract between the core and a platform adapter (Slack, Discord, console).

An adapter connects to its platform, turns payloads into `InboundMessage`s for `Core.receive` and agent
input into `Core.execute`/`Core.invoke` calls, and delivers the core's outbound actions. It holds no
business rules and writes no SQL. The core only ever calls the methods below.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from bot.models import Delivery, PostReport, SendMessage, UpsertCard

if TYPE_CHECKING:
    from bot.core import Core


class Adapter(Protocol):
    platform: str  # "slack" | "discord" | "console": matches Address.platform of its conversations

    async def start(self, core: "Core") -> None:
        """Connect and begin listening. Returns once connected; listening continues in background tasks."""

    async def stop(self) -> None:
        """Disconnect and release resources."""

    async def deliver(self, action: SendMessage | UpsertCard | PostReport) -> Delivery:
        """Perform one outbound action. Raise `DeliveryError` on failure (retry=False if hopeless)."""
