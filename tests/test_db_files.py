"""The database holds every customer's messages: only its owner may read it.

Real files in tmp_path, with the usual umask (022, which would give 0644): a new database and the WAL and
shared-memory files SQLite creates beside it are 0600; an existing file others can read is named in one
warning at start-up, with the fix.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from storage import Store, open_db
from tests.test_console import tandem


@pytest.fixture
def usual_umask():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_and_its_wal_and_shm_files_are_private(tmp_path, usual_umask):
    path = tmp_path / "data" / "tandem.db"
    db = open_db(path)
    try:
        Store(db).record_inbound("test", "ev-1", "message", {"text": "hello"})  # a write: the WAL is in use
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert all(f.exists() for f in files), [f.name for f in files if not f.exists()]
        assert {f.name: oct(mode(f)) for f in files} == {f.name: "0o600" for f in files}
    finally:
        db.close()


def test_reopening_keeps_the_database_private(tmp_path, usual_umask):
    path = tmp_path / "tandem.db"
    open_db(path).close()
    db = open_db(path)
    db.close()
    assert mode(path) == 0o600


def test_an_existing_database_others_can_read_is_named_in_one_warning_at_start_up(tmp_path, usual_umask):
    path = tmp_path / "shared.db"
    open_db(path).close()
    path.chmod(0o644)
    result = tandem("run", stdin="", env={"TANDEM_DB": str(path), "TANDEM_SUPPORT_HOURS": "24/7"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if str(path) in line and "chmod 600" in line]
    assert len(warnings) == 1, result.stderr
    assert mode(path) == 0o644, "the warning must not change the file behind the owner's back"


def test_a_private_database_gives_no_warning(tmp_path, usual_umask):
    path = tmp_path / "private.db"
    result = tandem("run", stdin="", env={"TANDEM_DB": str(path), "TANDEM_SUPPORT_HOURS": "24/7"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "chmod" not in result.stderr, result.stderr
    assert mode(path) == 0o600
