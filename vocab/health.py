"""What `/healthz` reports about one platform connection: the adapter knows whether it is connected and when
it last received an event; the store adds the outbox backlog. Kept here so the core, the adapters and the
HTTP server share one shape without importing each other. `WatchSnapshot` is what `/metrics` reads from the
store at each scrape."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PlatformHealth:
    platform: str
    connected: bool
    last_event_at: str | None = None  # ISO-8601 UTC of the last inbound event recorded, None before the first
    detail: str = ""  # why it is not connected, when it is not


@dataclass(frozen=True)
class WatchSnapshot:
    """The database's side of `/metrics`, read in one go at scrape time."""

    inbox_pending: int = 0
    outbox_pending: dict[str, int] = field(default_factory=dict)  # by platform, not yet delivered
    outbox_failed: dict[str, int] = field(default_factory=dict)  # by platform, given up on
    drafts: dict[str, int] = field(default_factory=dict)  # by drafts.status
    handoffs: dict[str, int] = field(default_factory=dict)  # by reason, every handoff ever logged
    waiting: int = 0  # conversations in the agents' queue
    oldest_wait_s: float = 0.0  # how long the first of them has waited
