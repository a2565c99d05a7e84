"""What `/healthz` answers: each configured platform (connected, last event received, outbox backlog) and
whether all of them are up. Built from the adapters' optional `health()` and the store's outbox, so any
HTTP server (Slack's, or the stand-alone one in adapters/http_health.py) serves the same report."""
from __future__ import annotations

import time

from bot.ports import CoreAPI, platform_health

STARTED = time.monotonic()


def health_report(core: CoreAPI) -> tuple[bool, dict]:
    """(all platforms up, the JSON body). A platform that is down makes the whole answer not ok (503)."""
    backlog = core.store.outbox_backlog()
    platforms = {}
    for name, adapter in sorted(core.adapters.items()):
        h = platform_health(adapter)
        platforms[name] = {"connected": h.connected, "last_event_at": h.last_event_at,
                           "outbox_backlog": backlog.get(name, 0), **({"detail": h.detail} if h.detail else {})}
    ok = all(p["connected"] for p in platforms.values())
    return ok, {"ok": ok, "uptime_s": round(time.monotonic() - STARTED), "platforms": platforms}
