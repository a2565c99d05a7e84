"""`tandem digest` and `tandem seed`: the digest on the command line, and a synthetic week to try it on.

Registered in tandem/cli.py with `cli.add_command(digest)` and `cli.add_command(seed)`.
`--post` queues the report in the database's outbox for every platform whose credentials are set; the
running bot (`tandem run`) delivers it within a minute, with the usual retries.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone

import click

from bot.config import ConfigError
from tandem.settings import settings_or_exit


def _settings(ctx: click.Context, db: str | None):
    from bot.digest.publish import digest_settings

    env_file = (ctx.find_root().obj or {}).get("env_file")
    settings = settings_or_exit(env_file, **({"tandem_db": db} if db else {}))
    try:
        return settings, digest_settings(env_file), env_file
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None


@click.command()
@click.option("--days", type=click.IntRange(1, 366), default=None, help="Days covered (default TANDEM_DIGEST_DAYS, 7).")
@click.option("--json", "as_json", is_flag=True, help="Print every figure as JSON.")
@click.option("--png", "png", type=click.Path(dir_okay=False), default=None, help="Also write the chart to FILE.")
@click.option("--post", is_flag=True, help="Queue the digest for the agent channel of every configured platform.")
@click.option("--db", default=None, help="Database file (default TANDEM_DB).")
@click.pass_context
def digest(ctx: click.Context, days: int | None, as_json: bool, png: str | None, post: bool, db: str | None) -> None:
    """Weekly digest: drafts, edits, handoffs, response times, CSAT, agents, KB gaps."""
    from bot.digest.chart import render_chart
    from bot.digest.figures import build_digest
    from bot.digest.publish import build_report, queue_report
    from bot.digest.render import to_json, to_text
    from tandem.runtime import open_store

    settings, dsettings, env_file = _settings(ctx, db)
    platforms = _platforms(env_file) if post else []
    store = open_store(settings.tandem_db)
    started = time.perf_counter()
    if post:
        result, report = build_report(store.reader, store.path, dsettings, days,
                                      low_confidence=settings.tandem_handoff_threshold)
        queue_report(store, report, platforms)
        click.echo(f"digest queued for {', '.join(platforms)}; `tandem run` delivers it (chart {report.image_path})",
                   err=True)
    else:
        result = build_digest(store.analytics(), days=days or dsettings.tandem_digest_days, tz=dsettings.zone,
                              now=datetime.now(timezone.utc), low_confidence=settings.tandem_handoff_threshold)
    built = time.perf_counter() - started
    click.echo(to_json(result) if as_json else to_text(result))
    if png:
        click.echo(f"chart written to {render_chart(result, png)}", err=True)
    click.echo(f"built in {built:.2f}s from {settings.tandem_db}", err=True)


def _platforms(env_file: str | None) -> list[str]:
    from tandem.runtime import platform_adapters

    platforms = [a.platform for a in platform_adapters(env_file)]
    if not platforms:
        raise click.ClickException("--post: no platform is configured (set the Slack or Discord credentials)")
    return platforms


@click.command()
@click.option("--days", type=click.IntRange(1, 90), default=7, show_default=True, help="Days of history to invent.")
@click.option("--per-day", type=click.IntRange(1, 5000), default=70, show_default=True,
              help="Conversations on a weekday (about half at weekends).")
@click.option("--seed", "seed_value", type=int, default=7, show_default=True, help="Random seed.")
@click.option("--db", default=None, help="Database file (default TANDEM_DB).")
@click.pass_context
def seed(ctx: click.Context, days: int, per_day: int, seed_value: int, db: str | None) -> None:
    """Fill the database with a realistic synthetic week (both platforms, every outcome, ratings, agents)."""
    from rich.progress import Progress

    from bot.digest.seed import seed_database
    from tandem.runtime import open_store

    settings, dsettings, _ = _settings(ctx, db)
    with Progress(transient=False) as progress:
        task = progress.add_task(f"seeding {settings.tandem_db}", total=days)
        written = seed_database(lambda clock: open_store(settings.tandem_db, clock), days=days, per_day=per_day, tz=dsettings.zone, seed=seed_value,
                                progress=lambda n: progress.advance(task, n))
    click.echo(f"{written} conversations over {days} days written to {settings.tandem_db}. "
               f"Try: tandem digest{' --db ' + db if db else ''} --png digest.png")
