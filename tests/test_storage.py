"""The SQLite log: migrations from an empty file, WAL and foreign keys, dedup, outbox coalescing, export."""
from __future__ import annotations

import json
import sqlite3

import pytest

from vocab import Address
from storage import Store, open_db
from storage.db import applied_migrations, migrations, pending_migrations


def test_migrations_build_the_schema_on_an_empty_file(tmp_path):
    path = tmp_path / "fresh.db"
    db = open_db(path, migrate=False)
    assert pending_migrations(db) == [m.name for m in migrations._migrations]
    migrations.apply(db)
    assert pending_migrations(db) == []
    assert set(db.table_names()) >= {"inbox", "conversations", "messages", "drafts", "events", "outbox",
                                     "ratings", "settings"}
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    again = open_db(path)  # idempotent
    assert applied_migrations(again) == applied_migrations(db)


def test_indexes_for_the_queue_and_the_digest_exist(tmp_path):
    db = open_db(tmp_path / "t.db")
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"idx_inbox_pending", "idx_conv_state", "idx_drafts_status", "idx_outbox_pending",
            "idx_events_at", "idx_messages_created"} <= names


def test_foreign_keys_are_enforced(tmp_path):
    store = Store(open_db(tmp_path / "t.db"))
    with pytest.raises(sqlite3.IntegrityError):
        store.append_message(999, "customer", "orphan", "test")


def test_inbox_deduplicates_by_platform_and_event_id(tmp_path):
    store = Store(open_db(tmp_path / "t.db"))
    first = store.record_inbound("slack", "Ev1", "message", {"a": 1})
    again = store.record_inbound("slack", "Ev1", "message", {"a": 2})
    other = store.record_inbound("discord", "Ev1", "message", {"a": 3})
    assert first == (1, False) and again == (1, True) and other[1] is False
    assert json.loads(store.pending_inbox()[0]["payload"]) == {"a": 1}


def test_card_updates_coalesce_but_messages_never_do(tmp_path):
    store = Store(open_db(tmp_path / "t.db"))
    conv = store.open_conversation(Address("test", "C1"), "U1", "cara", "en")
    assert store.enqueue_action("test", "upsert_card", {"conversation_id": conv.id}, conversation_id=conv.id)
    assert store.enqueue_action("test", "upsert_card", {"conversation_id": conv.id}, conversation_id=conv.id) is None
    store.enqueue_action("test", "send_message", {"text": "a"}, conversation_id=conv.id)
    store.enqueue_action("test", "send_message", {"text": "a"}, conversation_id=conv.id)
    kinds = [r["kind"] for r in store.outbox_rows()]
    assert kinds == ["upsert_card", "send_message", "send_message"]


def test_export_holds_messages_drafts_actions_and_ratings(tmp_path):
    store = Store(open_db(tmp_path / "t.db"))
    conv = store.open_conversation(Address("test", "C1"), "U1", "cara", "en")
    mid = store.append_message(conv.id, "customer", "hi 🙂", "test")
    did = store.create_draft_job(conv.id, mid)
    store.log_event("ana", "takeover", conversation_id=conv.id, via="command")
    store.add_rating(conv.id, 5, "U1")
    [row] = list(store.export_conversations())
    assert row["messages"][0]["text"] == "hi 🙂" and row["drafts"][0]["id"] == did
    assert row["actions"][0]["details"] == {"via": "command"} and row["ratings"] == [5]


def _table_dump(db) -> dict[str, list[tuple]]:
    tables = [t for t in db.table_names() if not t.startswith("_sqlite")]
    return {t: db.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables}


def _indexes(db) -> set[tuple[str, str]]:
    return {(r[0], r[1]) for r in db.execute(
        "SELECT tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}


def test_m006_declares_the_missing_references_and_keeps_every_row_and_index(tmp_path):
    """A database written at m005 (rows in every table) migrates to m006 with the same rows and indexes,
    and SQLite now knows events/outbox -> conversations and messages -> drafts."""
    from datetime import datetime, timezone

    from bot.digest.seed import seed_database

    path = tmp_path / "old.db"
    old = open_db(path, migrate=False)
    migrations.apply(old, stop_before="m006_declared_references")
    assert applied_migrations(old)[-1] == "m005_retention"
    seed_database(lambda clock: Store(old, clock=clock), days=2, per_day=10,
                  now=datetime(2026, 3, 4, 15, tzinfo=timezone.utc))
    store = Store(old)
    store.record_inbound("slack", "Ev1", "message", {"text": "hi"})
    conv = old.execute("SELECT min(id) FROM conversations").fetchone()[0]
    store.enqueue_action("slack", "send_message", {"text": "x"}, conversation_id=conv)
    store.enqueue_action("slack", "post_report", {"text": "digest"})  # no conversation: stays NULL
    store.log_event("lead", "mode", mode="review")  # no conversation: stays NULL
    store.set_setting("mode", "review")
    store.record_delivery("trigger-1", "approve")
    before, indexes = _table_dump(old), _indexes(old)
    assert all(before[t] for t in before), [t for t in before if not before[t]]
    assert old.execute("SELECT count(*) FROM messages WHERE draft_id IS NOT NULL").fetchone()[0] > 0
    assert old.execute("SELECT count(*) FROM events WHERE conversation_id IS NOT NULL").fetchone()[0] > 0
    old.close()

    db = open_db(path, migrate=False)
    migrations.apply(db, stop_before="m007_lessons")  # m006 alone, whatever later migrations add
    assert applied_migrations(db)[-1] == "m006_declared_references"
    assert _table_dump(db) == before
    assert _indexes(db) == indexes
    fks = {(t, fk.column, fk.other_table, fk.other_column) for t in ("events", "outbox", "messages")
           for fk in db.table(t).foreign_keys}
    assert {("events", "conversation_id", "conversations", "id"), ("outbox", "conversation_id", "conversations", "id"),
            ("messages", "draft_id", "drafts", "id")} <= fks
    assert ("messages", "conversation_id", "conversations", "id") in fks  # the ones m001 declared stay
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO events (at, actor, action, conversation_id) VALUES ('2026-01-01', 'x', 'open', 99999)")


def test_m006_names_rows_that_point_at_nothing_and_leaves_the_database_as_it_was(tmp_path):
    path = tmp_path / "old.db"
    old = open_db(path, migrate=False)
    migrations.apply(old, stop_before="m006_declared_references")
    Store(old).log_event("tandem", "handoff", conversation_id=424242, reason="low_confidence")
    old.close()
    with pytest.raises(Exception, match=r"events\.conversation_id names a missing conversations row in events id"):
        open_db(path)
    again = open_db(path, migrate=False)
    assert applied_migrations(again)[-1] == "m005_retention"
    assert again.execute("SELECT conversation_id FROM events").fetchall() == [(424242,)]


def test_m007_adds_the_lessons_table_that_survives_its_conversation(tmp_path):
    """Lessons (what agents taught) outlive the conversation they came from: its link is cleared, the row kept."""
    db = open_db(tmp_path / "t.db")
    assert "m007_lessons" in applied_migrations(db)
    db.execute("INSERT INTO conversations (platform, channel, customer_id, created_at, updated_at) "
               "VALUES ('console', 'c', 'u', '2026-01-01', '2026-01-01')")
    db.execute("INSERT INTO lessons (created_at, conversation_id, question, article_id, kind, taught_by) "
               "VALUES ('2026-01-01', 1, 'where is my refund', 'refunds-and-returns', 'question', 'ana')")
    db.execute("DELETE FROM conversations WHERE id = 1")
    row = db.execute("SELECT conversation_id, status, language FROM lessons").fetchone()
    assert row == (None, "draft", "en")
