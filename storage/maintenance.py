"""Keeping the data: online backup and restore through SQLite's backup API, the running-process lock, and the
retention purge, and the WAL checkpoints taken off the writer.

Backup copies a live database page by page (`sqlite3.Connection.backup`), so it is consistent while Tandem
writes: each step reads inside a read transaction, and SQLite restarts the copy when another connection
changed the source between steps. Under a steady stream of writes a stepwise copy could restart for ever, so
after a few restarts the rest is copied in one step (one read transaction: WAL lets the writer go on).

A running `tandem run` holds an exclusive `flock` on `<database>.lock` for as long as it lives. The kernel
drops that lock when the process ends however it ends (exit, crash, SIGKILL), so it never goes stale and a PID
written to a file could never be as sure. Restore takes the same lock, without waiting: if a Tandem holds it,
restore refuses; while restore holds it, a `tandem run` that starts refuses to start. (flock is per machine:
a database on a network share used from two machines is not covered.) The lock is on a file of its own, never
on the database: closing any descriptor of the database file would drop SQLite's own POSIX locks.

Checkpoints: by default SQLite copies the write-ahead log back into the database inside the commit that takes
it past 1,000 pages, so one commit in a few hundred pays for the copy, on the event loop's thread; on a large
database the pages are scattered and that commit takes 5-8 ms (bench/commit_cost.py), and while a long read (a digest
build) pins the log, every commit past the mark tries again. The running core instead raises the writer's
mark (`WRITER_CHECKPOINT_PAGES`, a safety net) and checkpoints every 0.2 s from a worker thread on a
connection of its own (`checkpoint`), so a commit only appends to the log.
"""
from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from storage.db import DatabaseUnavailable, _create_private, migrations

MIGRATIONS_TABLE = "_sqlite_migrations"
STEP_PAGES = 1024  # 4 MiB per step with 4 KiB pages
MAX_RESTARTS = 3
BATCH = 5000  # rows per purge transaction, so the core's writes wait for at most one batch
WRITER_CHECKPOINT_PAGES = 20_000  # ~80 MiB of log: the writer checkpoints itself only if the background ones stop
Progress = Callable[[int, int], None]  # (pages copied, pages in all)


class MaintenanceError(RuntimeError):
    """A backup, restore or lock that cannot be done. str() says why and what to do."""


class DatabaseInUse(MaintenanceError):
    """A running Tandem holds the database (its lock file is locked)."""


class RunLock:
    """The exclusive lock a running Tandem holds on `<database>.lock` (see the module docstring)."""

    def __init__(self, database: str | Path):
        self.path = Path(f"{Path(database).expanduser()}.lock")
        self.fd: int | None = None

    def acquire(self) -> "RunLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:  # the database's folder cannot be made or written: it cannot be opened either
            database = self.path.with_suffix("")
            raise DatabaseUnavailable(f"cannot open the database {database} ({exc.strerror or exc})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DatabaseInUse(f"{self.path.with_suffix('')} is in use by a running Tandem "
                                "(or a restore): stop it first") from None
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the flock
            self.fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _copy(source: sqlite3.Connection, target: sqlite3.Connection, progress: Progress | None) -> None:
    restarts = 0
    last_done = 0

    class _Restart(Exception):
        pass

    def step(status: int, remaining: int, total: int) -> None:
        nonlocal restarts, last_done
        done = total - remaining
        if done <= last_done:
            restarts += 1  # another connection wrote to the source: SQLite started the copy again
            if restarts >= MAX_RESTARTS:
                raise _Restart
        last_done = done
        if progress:
            progress(done, total)

    try:
        source.backup(target, pages=STEP_PAGES, progress=step)
        return
    except _Restart:
        pass
    total = source.execute("PRAGMA page_count").fetchone()[0]
    source.backup(target, pages=-1)  # the rest in one read transaction
    if progress:
        progress(total, total)


def backup(database: str | Path, destination: str | Path, progress: Progress | None = None) -> Path:
    """Copy the live `database` to a new file `destination` (created 0600; an existing one is refused)."""
    destination = Path(destination).expanduser()
    if destination.exists():
        raise MaintenanceError(f"{destination} already exists: choose a new file name (nothing was written)")
    if not Path(database).expanduser().exists():
        raise MaintenanceError(f"{database} does not exist: nothing to back up")
    destination.parent.mkdir(parents=True, exist_ok=True)
    _create_private(destination)
    source = sqlite3.connect(Path(database).expanduser(), timeout=30)
    target = sqlite3.connect(destination)
    try:
        _copy(source, target, progress)
        target.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
    except BaseException:
        target.close()
        destination.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    target.close()
    return destination


def check_tandem_database(path: str | Path) -> list[str]:
    """The migrations applied in the file at `path`; MaintenanceError if it is not a Tandem database this
    version can run (not SQLite, damaged, no Tandem migrations, or migrations from a newer Tandem)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise MaintenanceError(f"{path} is not a file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise MaintenanceError(f"{path} is damaged ({check}): not restored")
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                (MIGRATIONS_TABLE,)).fetchone():
                raise MaintenanceError(f"{path} is not a Tandem database (it has no {MIGRATIONS_TABLE} table)")
            applied = [r[0] for r in conn.execute(
                f"SELECT name FROM {MIGRATIONS_TABLE} WHERE migration_set = ? ORDER BY rowid", (migrations.name,))]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise MaintenanceError(f"{path} is not a SQLite database ({exc})") from None
    if not applied:
        raise MaintenanceError(f"{path} is not a Tandem database (no Tandem migrations applied)")
    known = {m.name for m in migrations._migrations}
    if unknown := [name for name in applied if name not in known]:
        raise MaintenanceError(f"{path} was written by a newer Tandem (migrations {', '.join(unknown)}): "
                               "upgrade Tandem before restoring it")
    return applied


def restore(backup_file: str | Path, database: str | Path, progress: Progress | None = None, *,
            keep_as: str | Path | None = None) -> list[str]:
    """Replace `database` with the content of `backup_file`, through the backup API, while holding the run lock
    (DatabaseInUse if a Tandem runs on it). The database as it was is first copied to `keep_as` (when given and
    the database exists), so a restore can be undone. Returns the backup's migrations; the next start applies
    newer ones."""
    applied = check_tandem_database(backup_file)
    database = Path(database).expanduser()
    if database.exists() and database.resolve() == Path(backup_file).expanduser().resolve():
        raise MaintenanceError(f"{backup_file} is the database itself: nothing to restore")
    with RunLock(database):
        if keep_as is not None and database.exists():
            backup(database, keep_as)
        database.parent.mkdir(parents=True, exist_ok=True)
        _create_private(database)
        source = sqlite3.connect(f"file:{Path(backup_file).expanduser()}?mode=ro", uri=True)
        target = sqlite3.connect(database, timeout=30)
        try:
            _copy(source, target, progress)
        finally:
            source.close()
            target.close()
    return applied


# ---- retention -----------------------------------------------------------------------------------------------
# Each purge: (count name, the rows to purge, the change). Rows are picked by their own time, oldest first;
# texts become '' (messages) or NULL (drafts) and `purged_at` says when, so the rows, their times, statuses,
# edit distances and links stay for the digest; the draft text's length is kept in `text_chars` for the edit
# share. A conversation a person is handling (waiting_human, human) or with a draft still open keeps its texts
# until it moves on.
_PURGES = (
    ("messages", "SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                 "WHERE m.created_at < :before AND m.purged_at IS NULL "
                 "AND c.state NOT IN ('waiting_human', 'human') AND NOT EXISTS (SELECT 1 FROM drafts o "
                 "WHERE o.conversation_id = c.id AND o.status IN ('drafting', 'pending')) ORDER BY m.id LIMIT :batch",
     "UPDATE messages SET text = '', purged_at = :now WHERE id IN ({ids})"),
    ("drafts", "SELECT d.id FROM drafts d JOIN conversations c ON c.id = d.conversation_id "
               "WHERE d.created_at < :before AND d.purged_at IS NULL AND d.status NOT IN ('drafting', 'pending') "
               "AND c.state NOT IN ('waiting_human', 'human') ORDER BY d.id LIMIT :batch",
     "UPDATE drafts SET text_chars = length(text), text = NULL, final_text = NULL, reject_reason = NULL, "
     "purged_at = :now WHERE id IN ({ids})"),
    ("inbox_payloads", "SELECT id FROM inbox WHERE received_at < :before AND purged_at IS NULL "
                       "AND status != 'pending' ORDER BY id LIMIT :batch",
     "UPDATE inbox SET payload = '{{}}', purged_at = :now WHERE id IN ({ids})"),
    ("outbox_rows", "SELECT id FROM outbox WHERE created_at < :before AND status = 'sent' ORDER BY id LIMIT :batch",
     "DELETE FROM outbox WHERE id IN ({ids})"),
    ("edit_events", "SELECT id FROM events WHERE at < :before AND action IN ('message_edited', 'message_deleted') "
                    "AND (json_type(details, '$.before') IS NOT NULL OR json_type(details, '$.after') IS NOT NULL "
                    "OR json_type(details, '$.text') IS NOT NULL) ORDER BY id LIMIT :batch",
     "UPDATE events SET details = json_remove(details, '$.before', '$.after', '$.text') WHERE id IN ({ids})"),
)


def purge(db, before: str, now: str, batch: int = BATCH) -> dict[str, int]:
    """Remove customer-derived text older than `before` (ISO UTC), `batch` rows per transaction.
    `db` is a sqlite-utils Database; returns how many rows of each kind were purged."""
    counts = {}
    for name, pick, change in _PURGES:
        counts[name] = 0
        while True:
            with db.atomic():
                ids = [r[0] for r in db.execute(pick, {"before": before, "batch": batch}).fetchall()]
                if ids:
                    db.execute(change.format(ids=",".join(map(str, ids))), {"now": now})
            counts[name] += len(ids)
            if len(ids) < batch:
                break
    return counts


def checkpoint(path: str) -> tuple[int, int, int]:
    """One passive checkpoint on a connection of its own (never waits for readers or the writer): SQLite's
    (busy, frames in the log, frames checkpointed)."""
    conn = sqlite3.connect(path, timeout=1)
    try:
        busy, frames, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return busy, frames, done
    finally:
        conn.close()
