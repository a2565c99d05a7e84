"""Build the digest and post it: chart to a file, `PostReport` through the outbox to every connected platform.

The figures and the chart are computed in a child process on their own read connection (WAL lets it read
while the core writes; bot/digest/offload.py says why a process), so the event loop keeps acknowledging
platform events while the digest builds.
The outbox then delivers the report like any other action, with retries, to each registered adapter.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from pathlib import Path

from bot.digest.figures import Digest, build_digest
from bot.digest.offload import build_off_loop
from bot.digest.render import to_report, to_text
from bot.digest.settings import DigestSettings
from bot.ports import Analytics, CoreAPI
from vocab import CommandResult, OutboxKind, PostReport

log = logging.getLogger(__name__)


def reports_dir(db_path: str) -> Path:
    """Charts go next to the database, in reports/ (the working directory for an in-memory database)."""
    base = Path(db_path).expanduser().parent if db_path != ":memory:" else Path.cwd()
    return base / "reports"


def chart_path(db_path: str, digest: Digest) -> Path:
    end = digest.current.end.date().isoformat()
    return reports_dir(db_path) / f"digest-{end}-{digest.days}d.png"


def build_report(reader: Callable[[], AbstractContextManager[Analytics]], db_path: str, settings: DigestSettings,
                 days: int | None = None, now: datetime | None = None,
                 low_confidence: float | None = None) -> tuple[Digest, PostReport]:
    """Figures + chart + PostReport, reading through `reader()`. Blocking: from async code it runs through
    `build_off_loop` (a child process)."""
    with reader() as queries:
        digest = build_digest(
            queries, days=days or settings.tandem_digest_days, tz=settings.zone,
            now=now or datetime.now(timezone.utc),
            low_confidence=settings.tandem_handoff_threshold if low_confidence is None else low_confidence,
        )
    from bot.digest.chart import render_chart  # matplotlib costs ~30 MB: load it only when a digest is drawn

    png = render_chart(digest, chart_path(db_path, digest))
    return digest, to_report(digest, image_path=str(png))


def digest_answer(reader: Callable[[], AbstractContextManager[Analytics]], days: int, tz: str, now: datetime,
                  low_confidence: float) -> CommandResult:
    """`/tandem digest`'s answer: the figures as text, with the headline numbers as data."""
    with reader() as queries:
        result = build_digest(queries, days=days, tz=tz, now=now, low_confidence=low_confidence)
    cur = result.current
    return CommandResult(to_text(result), data={
        "opened": cur.opened, "resolved": cur.resolved, "acceptance": cur.acceptance, "drafts": cur.drafts,
        "handoffs": cur.handoffs, "csat_average": cur.csat_average, "ratings": cur.csat_ratings})


def queue_report(store, report: PostReport, platforms: list[str]) -> list[int]:
    """Write the report to the outbox once per platform; the outbox delivers it to each agent channel."""
    payload = dataclasses.asdict(report)
    ids = []
    for platform in platforms:
        ids.append(store.enqueue_action(platform, OutboxKind.POST_REPORT, payload))
        log.info("digest queued for %s (outbox #%s)", platform, ids[-1])
    return ids


def enqueue_report(core: CoreAPI, report: PostReport) -> list[int]:
    """Queue the report for every registered adapter and wake the outbox."""
    ids = queue_report(core.store, report, sorted(core.adapters))
    core.wake_outbox()
    return ids


async def post_digest(core: CoreAPI, settings: DigestSettings, now: datetime | None = None,
                      days: int | None = None) -> list[int]:
    digest, report = await build_off_loop(core.store, build_report, core.store.path, settings, days,
                                          now or datetime.now(timezone.utc), core.settings.tandem_handoff_threshold)
    if not core.adapters:
        log.warning("digest built (%s) but no platform is connected to post it", report.image_path)
    return enqueue_report(core, report)


def digest_settings(env_file: str | None = None) -> DigestSettings:
    from bot.config import load_settings

    if env_file is None and os.path.exists(".env"):
        env_file = ".env"
    return load_settings(DigestSettings, env_file=env_file)
