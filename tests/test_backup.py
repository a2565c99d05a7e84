"""`tandem db backup` / `restore`: a consistent online copy while Tandem writes, and no restore under a running
Tandem (the run lock), checked on the real `tandem run` process."""
from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import storage.maintenance as maintenance
from bot.digest.seed import seed_database
from storage import Store, open_db
from storage.db import migrations
from storage.maintenance import DatabaseInUse, MaintenanceError, backup, restore
from tests.conftest import FIXTURE_KB

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 23, tzinfo=timezone.utc)
TABLES = ("conversations", "messages", "drafts", "events", "inbox")


def _counts(path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        conn.close()


def _seeded(path: Path, per_day: int = 30) -> Path:
    db = open_db(path)
    seed_database(lambda clock: Store(db, clock), days=7, per_day=per_day, now=NOW)
    db.close()
    return path


def test_backup_while_another_connection_writes_is_consistent(tmp_path, monkeypatch):
    source = _seeded(tmp_path / "live.db", per_day=60)
    before = _counts(source)
    monkeypatch.setattr(maintenance, "STEP_PAGES", 8)  # many steps, so the writer lands between them
    stop, written = threading.Event(), []

    def writer() -> None:
        db = open_db(source)
        store = Store(db, lambda: NOW + timedelta(days=1))
        while not stop.is_set():
            with store.atomic():
                n = len(written)
                store.record_inbound("test", f"w-{n}", "message", {"text": f"written during the backup {n}"})
                store.log_event("tester", "note", n=n)
            written.append(n)
        db.close()

    thread = threading.Thread(target=writer)
    thread.start()
    while len(written) < 20:  # the writer is going before the copy starts
        time.sleep(0.01)
    seen = []
    try:
        copy = backup(source, tmp_path / "backups" / "copy.db", progress=lambda done, total: seen.append((done, total)))
    finally:
        stop.set()
        thread.join()

    assert stat.S_IMODE(os.stat(copy).st_mode) == 0o600
    assert not Path(f"{copy}-wal").exists()
    conn = sqlite3.connect(copy)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    after = _counts(copy)
    assert all(after[t] >= before[t] for t in TABLES), (before, after)
    assert after["inbox"] - before["inbox"] == after["events"] - before["events"]  # whole transactions only
    assert seen and seen[-1][0] == seen[-1][1]  # the bar reached the end
    assert open_db(copy, migrate=False) and [m.name for m in migrations.pending(open_db(copy, migrate=False))] == []


def test_backup_refuses_an_existing_file_and_writes_nothing(tmp_path):
    source = _seeded(tmp_path / "live.db", per_day=2)
    existing = tmp_path / "precious.db"
    existing.write_text("keep me")
    with pytest.raises(MaintenanceError, match="already exists"):
        backup(source, existing)
    assert existing.read_text() == "keep me"


def test_restore_checks_the_file_is_a_tandem_database(tmp_path):
    live = _seeded(tmp_path / "live.db", per_day=2)
    before = _counts(live)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    garbage = tmp_path / "notes.txt"
    garbage.write_text("not a database at all, just some text " * 200)
    with pytest.raises(MaintenanceError, match="not a Tandem database"):
        restore(other, live)
    with pytest.raises(MaintenanceError, match="not a SQLite database"):
        restore(garbage, live)
    assert _counts(live) == before


def _tandem(*args: str, env: dict, cwd: Path, **kwargs):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("TANDEM_", "OPENAI_", "SLACK_", "DISCORD_"))}
    full.update(PYTHONPATH=str(REPO), **env)
    return [sys.executable, "-m", "tandem.cli", *args], dict(env=full, cwd=cwd, **kwargs)


def _run(*args: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    argv, kwargs = _tandem(*args, env=env, cwd=cwd)
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kwargs)


def test_restore_is_refused_while_tandem_runs_and_works_once_it_stopped(tmp_path):
    live = tmp_path / "tandem.db"
    saved = _seeded(tmp_path / "seeded.db", per_day=5)
    copy = backup(saved, tmp_path / "backup.db")
    env = {"TANDEM_DB": str(live), "TANDEM_KB": str(FIXTURE_KB), "TANDEM_SUPPORT_HOURS": "24/7"}
    argv, kwargs = _tandem("run", env=env, cwd=tmp_path)
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kwargs)
    try:
        deadline = time.monotonic() + 60
        while not _migrated(live):  # the lock is taken before the database is opened
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.1)
        proc.stdin.write("How does pay in 4 work?\n")
        proc.stdin.flush()
        refused = _run("db", "restore", str(copy), env=env, cwd=tmp_path)
        second = _run("run", env=env, cwd=tmp_path)
        assert proc.poll() is None
    finally:
        proc.stdin.close()  # end of input: the console run ends
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(timeout=10)
    assert refused.returncode != 0 and "in use by a running Tandem" in refused.stderr, refused.stderr
    assert second.returncode != 0 and "in use by a running Tandem" in second.stderr, second.stderr
    assert _counts(live)["conversations"] == 1  # the running Tandem's own data, untouched
    assert not list(tmp_path.glob("tandem.db.before-restore-*"))

    restored = _run("db", "restore", str(copy), env=env, cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert _counts(live) == _counts(saved)
    kept = list(tmp_path.glob("tandem.db.before-restore-*"))
    assert len(kept) == 1 and _counts(kept[0])["conversations"] == 1  # the replaced database, kept
    assert stat.S_IMODE(os.stat(kept[0]).st_mode) == 0o600
    assert "restored from" in restored.stdout


def _migrated(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return conn.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == len(migrations._migrations)
        finally:
            conn.close()
    except sqlite3.Error:
        return False


def test_restore_waits_for_nobody_and_takes_the_lock(tmp_path):
    live = _seeded(tmp_path / "live.db", per_day=2)
    copy = backup(_seeded(tmp_path / "other.db", per_day=4), tmp_path / "copy.db")
    with maintenance.RunLock(live):
        with pytest.raises(DatabaseInUse):
            restore(copy, live)
    restore(copy, live)
    assert _counts(live) == _counts(copy)


def test_backup_and_purge_commands(tmp_path):
    live = _seeded(tmp_path / "tandem.db", per_day=5)
    env = {"TANDEM_DB": str(live), "TANDEM_KB": str(FIXTURE_KB)}
    made = _run("db", "backup", "copy.db", env=env, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "backed up to copy.db" in made.stdout and _counts(tmp_path / "copy.db") == _counts(live)
    again = _run("db", "backup", "copy.db", env=env, cwd=tmp_path)
    assert again.returncode != 0 and "already exists" in again.stderr

    unset = _run("db", "purge", env=env, cwd=tmp_path)
    assert unset.returncode != 0 and "TANDEM_RETENTION_DAYS" in unset.stderr
    purged = _run("db", "purge", env={**env, "TANDEM_RETENTION_DAYS": "1"}, cwd=tmp_path)
    assert purged.returncode == 0, purged.stderr
    assert "purged what is older than" in purged.stdout and " messages" in purged.stdout
    conn = sqlite3.connect(live)
    actor, details = conn.execute("SELECT actor, details FROM events WHERE action = 'purge'").fetchone()
    conn.close()
    assert actor == "tandem db purge" and '"messages"' in details
