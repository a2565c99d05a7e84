"""What `/healthz` reports about one platform connection: the adapter knows whether it is connected and when
it last received an event; the store adds the outbox backlog. Kept here so the core, the adapters and the
HTTP server share one shape without importing each other."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlatformHealth:
    platform: str
    connected: bool
    last_event_at: str | None = None  # ISO-8601 UTC of the last inbound event recorded, None before the first
    detail: str = ""  # why it is not connected, when it is not
