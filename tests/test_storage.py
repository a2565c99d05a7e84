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
