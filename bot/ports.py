"""The contract between the core and a platform adapter (Slack, Discord, console).

An adapter connects to its platform, turns payloads into `InboundMessage`s for `Core.receive` and agent
input into `Core.execute`/`Core.invoke` calls, and delivers the core's outbound actions. It holds no
business rules and writes no SQL. The core only ever calls the methods below.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from vocab import Delivery, DeliveryError, PartsSent, PostReport, SendMessage, UpsertCard

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


async def route(
    action: SendMessage | UpsertCard | PostReport,
    *,
    send: Callable[[SendMessage], Awaitable[Delivery]],
    card: Callable[[UpsertCard], Awaitable[Delivery]],
    report: Callable[[PostReport], Awaitable[Delivery]],
) -> Delivery:
    """Call the adapter's handler for this kind of action; an unknown kind cannot be delivered by retrying."""
    if isinstance(action, SendMessage):
        return await send(action)
    if isinstance(action, UpsertCard):
        return await card(action)
    if isinstance(action, PostReport):
        return await report(action)
    raise DeliveryError(f"cannot deliver {type(action).__name__}", retry=False)


async def send_parts(parts: list[str], send_one: Callable[[str], Awaitable[str]], sent: PartsSent) -> str:
    """Post `parts` in order, starting after those already sent; return the first part's platform id.

    `sent` is updated after every part, so when a later part fails the outbox keeps the count and the
    retry resumes there: the customer never sees the first half of a long answer twice.
    """
    for part in parts[sent.done:]:
        ref = await send_one(part)
        sent.first_ref = sent.first_ref or ref
        sent.done += 1
    return sent.first_ref
