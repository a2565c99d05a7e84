"""The daily retention purge while Tandem runs: customers' texts older than TANDEM_RETENTION_DAYS are removed.

A background service (entry point `tandem.services` in pyproject.toml, beside the digest). With the setting
unset it does nothing. Otherwise it purges at start-up when the last purge is a day old or more (or never
happened), then once a day; the time of the last purge is kept in the settings table, so a restart does not
purge again within the day. The purge itself (which rows, what is kept for the digest) is the store's
`purge_before`, run in a worker thread on a connection of its own so the core keeps answering. Clock and
sleep are injectable so tests travel in time without sleeping.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from vocab import TANDEM
from vocab.times import iso

log = logging.getLogger(__name__)
EVERY = timedelta(days=1)
MAX_NAP = 3600.0  # re-check the clock at least hourly (laptop sleep, clock changes)
LAST_PURGED = "retention.last_purged"  # settings-table key: when the last purge ran (ISO, UTC)


async def _nothing() -> None:
    return None


async def purge_daily(store, days: int, *, clock: Callable[[], datetime],
                      sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, runs: int | None = None) -> None:
    """Purge what is older than `days` days now and every day after (until cancelled, or `runs` purges)."""
    done = 0
    while runs is None or done < runs:
        stored = store.setting(LAST_PURGED)
        due = datetime.fromisoformat(stored) + EVERY if stored else clock()
        while (left := (due - clock()).total_seconds()) > 0:
            await sleep(min(left, MAX_NAP))
        now = clock()
        before = iso(now - timedelta(days=days))
        try:
            counts = await asyncio.to_thread(store.purge_before, before, TANDEM)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - tomorrow's purge must still run
            log.exception("the retention purge of what is older than %s failed", before)
            counts = None
        store.set_setting(LAST_PURGED, now.isoformat())
        done += 1
        if counts is not None:
            log.info("retention purge of what is older than %s: %s", before,
                     ", ".join(f"{n} {what}" for what, n in counts.items()))


def service(core, settings=None, *, clock=None, sleep=asyncio.sleep):
    """The coroutine `tandem.runtime.serve` runs next to the core: the daily purge when TANDEM_RETENTION_DAYS
    is set (a coroutine that returns at once when it is not)."""
    settings = settings or core.settings
    days = settings.tandem_retention_days
    if not days:
        return _nothing()
    log.info("customers' texts are kept %d days; older ones are purged daily", days)
    from bot.digest.publish import digest_settings

    if days <= (digest_days := digest_settings().tandem_digest_days):
        log.warning("TANDEM_RETENTION_DAYS (%d) is not above TANDEM_DIGEST_DAYS (%d): the digest's knowledge-base "
                    "gaps will miss the questions purged within its period", days, digest_days)
    return purge_daily(core.store, days, clock=clock or core.store.clock, sleep=sleep)
