"""`tandem db ...`: migrate, backup, restore and purge the database named by TANDEM_DB.

The work is done in storage/ (storage.maintenance: SQLite's online backup API, the run lock, the retention
purge); these commands read the settings, show a progress bar for the copies and print one line of result.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from tandem.settings import CONTEXT, db_option
from tandem.settings import command_settings as _settings


class _Bar:
    """A rich progress bar on stderr fed by the backup API's (done, total) pages; nothing when not a terminal."""

    def __init__(self, what: str):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn(what), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                                 console=Console(stderr=True), transient=True)
        self.task = None

    def __enter__(self) -> "_Bar":
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def __call__(self, done: int, total: int) -> None:
        if self.task is None:
            self.task = self.progress.add_task("copy", total=total)
        self.progress.update(self.task, completed=done, total=total)


@click.group(context_settings=CONTEXT)
def db() -> None:
    """Database maintenance: migrate, backup, restore, purge."""


@db.command("migrate")
@db_option()
@click.pass_context
def db_migrate(ctx: click.Context, db_path: str | None) -> None:
    """Create the database or bring it up to date."""
    from storage.db import applied_migrations, migrations, open_db, pending_migrations

    settings = _settings(ctx, db_path)
    database = open_db(settings.tandem_db, migrate=False)
    pending = pending_migrations(database)
    migrations.apply(database)
    click.echo(f"{settings.tandem_db}: applied {len(pending)} migration(s)"
               + (f" ({', '.join(pending)})" if pending else "")
               + f"; {len(applied_migrations(database))} in total.")


@db.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@db_option()
@click.pass_context
def db_backup(ctx: click.Context, file: Path, db_path: str | None) -> None:
    """Copy the database to FILE (a new file, readable by you alone), also while Tandem runs."""
    from storage.maintenance import backup

    settings = _settings(ctx, db_path)
    with _Bar("backing up") as bar:
        backup(settings.tandem_db, file, progress=bar)
    click.echo(f"{settings.tandem_db} backed up to {file} ({file.stat().st_size:,} bytes)")


@db.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option()
@click.pass_context
def db_restore(ctx: click.Context, file: Path, db_path: str | None) -> None:
    """Replace the database with the backup FILE (refused while Tandem runs on it).

    The database as it was is kept beside it first (<database>.before-restore-<time>)."""
    from storage.maintenance import restore
    from vocab.times import utcnow

    settings = _settings(ctx, db_path)
    database = Path(settings.tandem_db).expanduser()
    keep = Path(f"{database}.before-restore-{utcnow():%Y%m%dT%H%M%S}")
    with _Bar("restoring") as bar:
        applied = restore(file, database, progress=bar, keep_as=keep)
    kept = f"; the previous database is kept as {keep}" if keep.exists() else ""
    click.echo(f"{database} restored from {file} ({len(applied)} migration(s); newer ones are applied at the "
               f"next start){kept}")


@db.command("purge")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Keep this many days (default: TANDEM_RETENTION_DAYS).")
@db_option()
@click.pass_context
def db_purge(ctx: click.Context, days: int | None, db_path: str | None) -> None:
    """Remove customers' texts and raw payloads older than the retention period (the digest's figures stay)."""
    from tandem.runtime import open_store
    from vocab.times import iso

    settings = _settings(ctx, db_path)
    days = days or settings.tandem_retention_days
    if not days:
        raise click.UsageError("set TANDEM_RETENTION_DAYS or pass --days N (nothing was purged)")
    store = open_store(settings.tandem_db)
    before = iso(store.clock() - timedelta(days=days))
    counts = store.purge_before(before, actor="tandem db purge")
    click.echo(f"purged what is older than {before}: " + ", ".join(f"{n} {what}" for what, n in counts.items()))
