"""Keeps the Discord gateway connection alive and says whether it is.

discord.py reconnects on the errors it expects (closed sockets, RECONNECT, INVALID_SESSION), but a text frame
that is not a JSON object (`{`, `null`, `[]`) raises out of its reader and ends the connection for good while
the heartbeat thread goes on, so nothing looks wrong. `guard_socket` turns such a frame into an error log
and a RESUME (the session is still valid, so Discord replays what was sent meanwhile); `Liveness` records
what `/healthz` reports (connected, last event received, why not connected). The adapter's run loop restarts
the whole connection if it ever ends for any other reason.
"""
from __future__ import annotations

import logging
from typing import Any

from discord.gateway import DiscordWebSocket, ReconnectWebSocket

from vocab import PlatformHealth
from vocab.times import iso, utcnow

log = logging.getLogger(__name__)
RESUMABLE_CLOSE = 4000  # any close code but 1000/1001 keeps the session resumable


def guard_socket(ws: DiscordWebSocket) -> DiscordWebSocket:
    """Make a frame discord.py cannot read a logged RESUME instead of the end of intake (this socket only)."""
    read = ws.received_message

    async def checked(msg: Any, /) -> None:
        try:
            await read(msg)
        except ReconnectWebSocket as reconnect:
            if not reconnect.resume:  # INVALID_SESSION d=false: the session is gone, events meanwhile are lost
                log.error("discord: the gateway invalidated the session; identifying again (events sent while "
                          "it was down are not replayed)")
            raise
        except Exception as exc:  # noqa: BLE001 - anything else would end the reader silently
            sample = msg[:80] if isinstance(msg, (str, bytes)) else type(msg).__name__
            log.error("discord: gateway frame could not be read (%s: %s; frame %r); reconnecting with RESUME",
                      type(exc).__name__, exc, sample)
            await ws.close(code=RESUMABLE_CLOSE)
            raise ReconnectWebSocket(ws.shard_id, resume=True) from exc

    ws.received_message = checked  # type: ignore[method-assign]
    return ws


def watch_session(parsers: dict[str, Any], liveness: "Liveness") -> None:
    """Mark the session up the moment READY or RESUMED is parsed (`on_ready` comes later, and only once the
    guilds have arrived)."""
    for event in ("READY", "RESUMED"):
        parse = parsers[event]

        def run(data: Any, parse=parse) -> None:
            liveness.up()
            parse(data)

        parsers[event] = run


class Liveness:
    """Whether the gateway session is up, and when the last inbound event was recorded."""

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.connected = False
        self.last_event_at: str | None = None
        self.detail = "connecting"

    def up(self) -> None:
        self.connected, self.detail = True, ""

    def down(self, why: str) -> None:
        if self.connected:
            log.warning("discord: gateway connection lost (%s); reconnecting", why)
        self.connected, self.detail = False, why

    def event(self) -> None:
        self.last_event_at = iso(utcnow())

    def report(self) -> PlatformHealth:
        return PlatformHealth(self.platform, self.connected, self.last_event_at, self.detail)
