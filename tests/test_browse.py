"""`tandem browse`: the real command, run as a process on a free port against a seeded database, read over HTTP.

Checks that only the holder of the one-use sign-in link gets in, that the canned queries return what the database holds, that every table and column is described, that
nothing can be written, that rows a running Tandem writes (still in the WAL) are visible, that stopping the
command stops Datasette, and that a missing Datasette is one line saying how to install it.
"""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("datasette")

TANDEM = [sys.executable, "-m", "tandem.cli"]
ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_SIGNED_IN = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def _get(port: int, path: str, opener=_SIGNED_IN, **params) -> tuple[int, object]:
    url = f"http://127.0.0.1:{port}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    try:
        with opener.open(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body)
        except ValueError:  # Datasette answers a 403 in HTML
            return exc.code, body.decode("utf-8", "replace")


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browse")
    db_file = folder / "tandem.db"
    subprocess.run([*TANDEM, "seed", "--db", str(db_file), "--days", "2", "--per-day", "10"], cwd=folder,
                   env=_env(), check=True, capture_output=True, timeout=300)
    with sqlite3.connect(db_file) as conn:  # two conversations in the queue, the later-handed-off one first by id
        ids = [r[0] for r in conn.execute("SELECT id FROM conversations ORDER BY id LIMIT 2")]
        conn.execute("UPDATE conversations SET state = 'waiting_human', handoff_reason = 'asked_for_human', "
                     "handoff_at = '2026-01-02T10:00:00.000000+00:00' WHERE id = ?", (ids[0],))
        conn.execute("UPDATE conversations SET state = 'waiting_human', handoff_reason = 'low_confidence', "
                     "handoff_at = '2026-01-01T09:00:00.000000+00:00' WHERE id = ?", (ids[1],))
    port = _free_port()
    log = open(folder / "browse.log", "w")
    proc = subprocess.Popen([*TANDEM, "browse", "--db", str(db_file), "--port", str(port)], cwd=folder, env=_env(),
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            assert proc.poll() is None, (folder / "browse.log").read_text()
            assert time.monotonic() < deadline, "tandem browse did not start listening"
            time.sleep(0.2)
        while not (link := re.search(r"http://127\.0\.0\.1:\d+/-/auth-token\?token=\w+",
                                     (folder / "browse.log").read_text())):
            assert time.monotonic() < deadline, "no sign-in link"
            time.sleep(0.2)
        with _SIGNED_IN.open(link.group(0), timeout=30) as response:  # sets the signed ds_actor cookie
            assert response.status == 200
        yield {"port": port, "db": db_file, "proc": proc, "log": folder / "browse.log", "link": link.group(0)}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        finally:
            still_listening = _listening(port)
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # whatever the command started, should anything remain
            except ProcessLookupError:
                pass
            log.close()
        assert not still_listening, "Datasette outlived tandem browse"


def _rows(db_file: Path, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_the_queue_now_is_the_waiting_conversations_oldest_first(server):
    status, rows = _get(server["port"], "/tandem/queue_now.json", _shape="array")
    assert status == 200
    expected = _rows(server["db"], "SELECT id, handoff_reason FROM conversations WHERE state = 'waiting_human' "
                                   "ORDER BY handoff_at, id")
    assert len(expected) >= 2
    assert [(r["conversation_id"], r["handoff_reason"]) for r in rows] == expected
    assert rows[0]["handoff_at"] < rows[1]["handoff_at"]


def test_a_conversations_history_holds_its_messages_drafts_and_actions_in_order(server):
    conv = _rows(server["db"], "SELECT conversation_id FROM drafts GROUP BY conversation_id "
                               "ORDER BY count(*) DESC LIMIT 1")[0][0]
    status, rows = _get(server["port"], "/tandem/conversation_history.json", _shape="array", id=conv)
    assert status == 200
    counts = {kind: _rows(server["db"], f"SELECT count(*) FROM {table} WHERE conversation_id = ?", (conv,))[0][0]
              for kind, table in (("message", "messages"), ("draft", "drafts"), ("event", "events"))}
    assert {k: sum(r["kind"] == k for r in rows) for k in counts} == counts
    assert [r["text"] for r in rows if r["kind"] == "message"] == [
        t for (t,) in _rows(server["db"], "SELECT text FROM messages WHERE conversation_id = ? ORDER BY id", (conv,))]
    assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)


def test_edited_drafts_show_the_draft_and_the_text_sent_side_by_side(server):
    status, rows = _get(server["port"], "/tandem/edited_drafts.json", _shape="array")
    assert status == 200
    expected = _rows(server["db"], "SELECT id, text, final_text FROM drafts WHERE status = 'edited' "
                                   "ORDER BY decided_at DESC, id DESC")
    assert expected, "the seed writes edited drafts"
    assert [(r["draft_id"], r["draft"], r["sent"]) for r in rows] == expected


def test_every_table_and_column_is_described_with_units(server):
    status, meta = _get(server["port"], "/-/metadata.json")
    assert status == 200
    described = meta["databases"]["tandem"]["tables"]
    for (table,) in _rows(server["db"], "SELECT name FROM sqlite_master WHERE type = 'table'"):
        assert described[table]["description"], table
        columns = {c[1] for c in _rows(server["db"], f"PRAGMA table_info({table})")}
        assert columns <= set(described[table]["columns"]), (table, columns - set(described[table]["columns"]))
    assert "milliseconds" in described["drafts"]["columns"]["latency_ms"]
    assert described["drafts"]["units"]["latency_ms"] == "ms"
    assert "ISO-8601 UTC" in described["conversations"]["columns"]["created_at"]
    assert set(meta["databases"]["tandem"]["queries"]) == {
        "queue_now", "edited_drafts", "handoffs_this_week", "knowledge_gaps", "conversation_history"}


def test_without_the_sign_in_link_other_users_of_the_machine_see_nothing(server):
    stranger = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    for path in ("/tandem/queue_now.json", "/tandem/conversations.json", "/-/metadata.json", "/tandem.json"):
        assert _get(server["port"], path, opener=stranger)[0] == 403, path
    with pytest.raises(urllib.error.HTTPError) as used:  # the link works once
        stranger.open(server["link"], timeout=30)
    assert used.value.code == 403


def test_writes_are_refused_and_the_file_is_unchanged(server):
    before = _rows(server["db"], "SELECT count(*) FROM conversations")[0][0]
    for sql in ("DELETE FROM conversations", "UPDATE conversations SET state = 'resolved'",
                "SELECT 1; DELETE FROM conversations", "PRAGMA query_only = 0"):
        status, body = _get(server["port"], "/tandem.json", sql=sql)
        assert status == 400, (sql, body)
    request = urllib.request.Request(f"http://127.0.0.1:{server['port']}/tandem/queue_now", method="POST",
                                     data=b"id=1")
    with pytest.raises(urllib.error.HTTPError) as refused:
        _SIGNED_IN.open(request, timeout=30)
    assert refused.value.code >= 400  # Datasette 0.65.5 answers a POST to a read-only query with a 500
    assert _rows(server["db"], "SELECT count(*) FROM conversations")[0][0] == before


def test_rows_written_while_browsing_are_visible_wal_included(server):
    conn = sqlite3.connect(server["db"], isolation_level=None)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.execute("PRAGMA wal_autocheckpoint = 0")  # keep the row in the WAL, as a running Tandem may
        conn.execute("INSERT INTO conversations (platform, channel, customer_id, state, handoff_reason, handoff_at, "
                     "created_at, updated_at) VALUES ('slack', 'C9', 'U9', 'waiting_human', 'frustration', "
                     "'2025-12-31T00:00:00.000000+00:00', '2025-12-31T00:00:00+00:00', '2025-12-31T00:00:00+00:00')")
        new_id = conn.execute("SELECT max(id) FROM conversations").fetchone()[0]
        status, rows = _get(server["port"], "/tandem/queue_now.json", _shape="array")
        assert status == 200
        assert rows[0]["conversation_id"] == new_id  # handed off earliest: first in the queue
    finally:
        conn.close()


def test_without_datasette_the_command_says_how_to_install_it(tmp_path):
    blocker = tmp_path / "site"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class _NoDatasette:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'datasette' or name.startswith('datasette.'):\n"
        "            raise ImportError('No module named datasette')\n"
        "sys.meta_path.insert(0, _NoDatasette())\n")
    db_file = tmp_path / "tandem.db"
    db_file.write_bytes(b"")
    env = _env()
    env["PYTHONPATH"] = os.pathsep.join([str(blocker), str(ROOT)])
    done = subprocess.run([*TANDEM, "browse", "--db", str(db_file), "--port", str(_free_port())], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "pip install -e '.[browse]'" in lines[0]


def test_a_missing_database_file_is_one_clear_line(tmp_path):
    done = subprocess.run([*TANDEM, "browse", "--db", str(tmp_path / "nope.db"), "--port", str(_free_port())],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"Error: no database at {tmp_path / 'nope.db'}: give --db FILE, or set TANDEM_DB "
        "(`tandem seed --db FILE` writes a sample one)"]
    assert not (tmp_path / "nope.db").exists()
