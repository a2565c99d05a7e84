"""The store: every query Tandem runs, each method named for what it does.

The core calls these; nothing outside `storage/` writes SQL. Times are ISO-8601 UTC strings from the
injected clock, so tests can travel in time and strings sort chronologically.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from typing import Any

from storage.analytics import Analytics
from storage.base import QUEUE_SQL
from storage.db import open_db
from storage.confirmations import ConfirmationStore
from storage.lessons import LessonStore
from storage.drafts import DraftStore
from storage.duty import DutyStore
from storage.records import to_conversation
from storage.voice import VoiceStore
from storage.watch import WatchStore
from vocab import Address, AuditAction, Conversation, ConversationChange


@contextmanager
def open_reader(path: str) -> Iterator[Analytics]:
    """The digest's queries on a connection of their own to the database at `path`, closed after."""
    db = open_db(path, migrate=False)
    try:
        yield Analytics(db)
    finally:
        db.close()


class Store(DraftStore, LessonStore, ConfirmationStore, VoiceStore, WatchStore, DutyStore):
    """The SQLite engine of the `bot.ports.Store` contract."""

    # ---- the digest's queries ----------------------------------------------------------------------------
    def analytics(self) -> Analytics:
        """The digest's queries on this connection (this thread)."""
        return Analytics(self.db)

    @contextmanager
    def reader(self) -> Iterator[Analytics]:
        """The digest's queries on a connection of their own, for a build in another thread; closed after."""
        if self.path == ":memory:":
            yield Analytics(self.db)
            return
        with open_reader(self.path) as queries:
            yield queries

    def reader_factory(self) -> Callable[[], AbstractContextManager[Analytics]] | None:
        """`reader()` as a picklable callable that another process can open on its own; None when the database
        lives in this process's memory only."""
        return None if self.path == ":memory:" else partial(open_reader, self.path)

    # ---- checkpoints (storage/maintenance.py says why) ---------------------------------------------------
    def defer_checkpoints(self) -> bool:
        """Leave log checkpoints to `checkpoint()` calls from another thread (the writer keeps a far mark as a
        safety net); False for a database in memory, which has no log."""
        from storage.maintenance import WRITER_CHECKPOINT_PAGES

        if self.path == ":memory:":
            return False
        self._run(f"PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES}")
        return True

    def checkpoint(self) -> tuple[int, int, int]:
        """A passive checkpoint on a connection of its own: call it from a worker thread."""
        from storage.maintenance import checkpoint

        return checkpoint(self.path)

    # ---- retention ---------------------------------------------------------------------------------------
    def purge_before(self, before: str, actor: str = "tandem") -> dict[str, int]:
        """Purge customer-derived text older than `before` (see storage.maintenance.purge) and log a PURGE audit
        row with the counts. On a connection of its own (file databases), so it may run in a worker thread."""
        from storage.maintenance import purge

        if self.path == ":memory:":
            counts = purge(self.db, before, self.now())
            self.log_event(actor, AuditAction.PURGE, before=before, **counts)
            return counts
        db = open_db(self.path, migrate=False)
        try:
            counts = purge(db, before, self.now())
            Store(db, clock=self.clock).log_event(actor, AuditAction.PURGE, before=before, **counts)
        finally:
            db.close()
        return counts

    # ---- inbox -------------------------------------------------------------------------------------------
    def record_inbound(self, platform: str, event_id: str, kind: str, payload: dict) -> tuple[int, bool]:
        """Insert an inbound event once. Returns (inbox id, duplicate?)."""
        row, duplicate = self.record_inbound_row(platform, event_id, kind, payload)
        return row["id"], duplicate

    def record_inbound_row(self, platform: str, event_id: str, kind: str,
                           payload: dict) -> tuple[dict[str, Any], bool]:
        """Insert an inbound event once. Returns (the row as `pending_inbox` gives it: id, platform, event_id, kind,
        payload; duplicate?), so the process that recorded it can apply it without reading it back.

        The payload is kept as ASCII JSON: every character, even a lone surrogate that UTF-8 (hence SQLite)
        cannot hold, is stored as its escape, so whatever the platform delivered is recorded losslessly."""
        text = json.dumps(payload, ensure_ascii=True)
        cur = self._run(
            "INSERT INTO inbox (platform, event_id, kind, payload, received_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (platform, event_id) DO NOTHING",
            (platform, event_id, kind, text, self.now()),
        )
        if cur.rowcount == 1:
            return {"id": cur.lastrowid, "platform": platform, "event_id": event_id, "kind": kind,
                    "payload": text}, False
        row = self._one("SELECT id, platform, event_id, kind, payload FROM inbox WHERE platform = ? AND event_id = ?",
                        (platform, event_id))
        return row, True

    def record_delivery(self, key: str, command: str = "") -> bool:
        """Remember that the agent input delivered under `key` is being executed. False if it was already:
        call it inside the command's transaction, so the key and the command's effect are kept together."""
        cur = self._run("INSERT INTO deliveries (key, at, command) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING",
                              (key, self.now(), command[:80]))
        return cur.rowcount == 1

    def prune_deliveries(self, before: str) -> int:
        """Forget delivery keys recorded before `before` (platforms stop redelivering long before)."""
        return self._run("DELETE FROM deliveries WHERE at < ?", (before,)).rowcount

    def pending_inbox(self, limit: int = 100) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM inbox WHERE status = 'pending' ORDER BY id LIMIT ?", (limit,))

    def mark_inbox_done(self, inbox_id: int, error: str | None = None) -> None:
        self._run(
            "UPDATE inbox SET status = ?, processed_at = ?, error = ? WHERE id = ?",
            ("error" if error else "done", self.now(), error, inbox_id),
        )

    def count_inbox(self, status: str) -> int:
        return self._one("SELECT count(*) AS n FROM inbox WHERE status = ?", (status,))["n"]

    # ---- conversations -----------------------------------------------------------------------------------
    def latest_conversation_at(self, address: Address) -> Conversation | None:
        return to_conversation(
            self._one(
                "SELECT * FROM conversations WHERE platform = ? AND workspace = ? AND channel = ? AND thread = ? "
                "ORDER BY id DESC LIMIT 1",
                (address.platform, address.workspace, address.channel, address.thread),
            )
        )

    def open_conversation(self, address: Address, customer_id: str, customer_name: str, language: str) -> Conversation:
        """Insert a conversation and return it as stored (`RETURNING`: one statement, not an insert and a read)."""
        now = self.now()
        row = {"platform": address.platform, "workspace": address.workspace, "channel": address.channel,
               "thread": address.thread, "is_dm": int(address.is_dm), "customer_id": customer_id,
               "customer_name": customer_name, "language": language, "state": "bot", "created_at": now,
               "updated_at": now}
        return to_conversation(self._returning(
            f"INSERT INTO conversations ({', '.join(row)}) VALUES ({', '.join('?' * len(row))}) RETURNING *",
            list(row.values())))

    def conversation(self, conversation_id: int) -> Conversation | None:
        return to_conversation(self._one("SELECT * FROM conversations WHERE id = ?", (conversation_id,)))

    def change_conversation(self, conversation_id: int, change: ConversationChange) -> Conversation:
        """Write one transition's fields (see `ConversationChange`) and return the conversation as it is now."""
        columns = change.columns()
        columns["updated_at"] = self.now()
        assignments = ", ".join(f"{column} = ?" for column in columns)
        if change.reopened is True:
            assignments += ", reopened_count = reopened_count + 1"
        return to_conversation(self._returning(f"UPDATE conversations SET {assignments} WHERE id = ? RETURNING *",
                                               [*columns.values(), conversation_id]))

    def conversations_needing_agent(self) -> list[dict[str, Any]]:
        """Handed-off conversations and conversations with a draft awaiting review: the soonest due time first,
        then those without one, oldest wait first."""
        return self._all(QUEUE_SQL + " ORDER BY t.due_at IS NULL, t.due_at, waiting_since, c.id")

    # ---- messages ----------------------------------------------------------------------------------------
    def append_message(
        self,
        conversation_id: int,
        author_kind: str,
        text: str,
        platform: str,
        *,
        author_id: str = "",
        author_name: str = "",
        platform_message_id: str | None = None,
        draft_id: int | None = None,
        inbox_id: int | None = None,
        attachments: int = 0,
    ) -> int:
        return self._insert(
            "messages", {
                "conversation_id": conversation_id,
                "author_kind": author_kind,
                "author_id": author_id,
                "author_name": author_name,
                "text": text,
                "platform": platform,
                "platform_message_id": platform_message_id,
                "draft_id": draft_id,
                "inbox_id": inbox_id,
                "created_at": self.now(),
                "attachments": attachments,
            }
        )
    def message(self, message_id: int) -> dict[str, Any] | None:
        return self._one("SELECT * FROM messages WHERE id = ?", (message_id,))

    def message_by_platform_id(self, platform: str, platform_message_id: str) -> dict[str, Any] | None:
        return self._one(
            "SELECT * FROM messages WHERE platform = ? AND platform_message_id = ? ORDER BY id LIMIT 1",
            (platform, platform_message_id),
        )

    def mark_message_edited(self, message_id: int, new_text: str) -> None:
        self._run("UPDATE messages SET text = ?, edited_at = ? WHERE id = ?", (new_text, self.now(), message_id))

    def mark_message_deleted(self, message_id: int) -> None:
        self._run("UPDATE messages SET deleted_at = ? WHERE id = ?", (self.now(), message_id))

    def mark_message_delivered(self, message_id: int, platform_message_id: str) -> None:
        self._run(
            "UPDATE messages SET delivered_at = ?, platform_message_id = COALESCE(NULLIF(?, ''), platform_message_id) "
            "WHERE id = ?",
            (self.now(), platform_message_id, message_id),
        )

    def recent_messages(self, conversation_id: int, limit: int = 20) -> list[dict[str, Any]]:
        rows = self._all(
            "SELECT * FROM messages WHERE conversation_id = ? ORDER BY id DESC LIMIT ?", (conversation_id, limit)
        )
        return rows[::-1]

    def first_customer_message_ref(self, conversation_id: int) -> str | None:
        """The platform id of the conversation's first customer message (where its status reaction sits)."""
        row = self._one("SELECT platform_message_id FROM messages WHERE conversation_id = ? AND author_kind = "
                        "'customer' ORDER BY id LIMIT 1", (conversation_id,))
        return row["platform_message_id"] if row else None

    def recent_customer_texts(self, conversation_id: int, limit: int = 5) -> list[str]:
        rows = self._all(
            "SELECT text FROM messages WHERE conversation_id = ? AND author_kind = 'customer' "
            "ORDER BY id DESC LIMIT ?",
            (conversation_id, limit),
        )
        return [r["text"] for r in rows]

    # ---- audit -------------------------------------------------------------------------------------------
    def log_event(
        self,
        actor: str,
        action: str,
        *,
        actor_role: str = "",
        conversation_id: int | None = None,
        draft_id: int | None = None,
        **details: Any,
    ) -> int:
        return self._insert(
            "events", {
                "at": self.now(),
                "actor": actor,
                "actor_role": actor_role,
                "action": action,
                "conversation_id": conversation_id,
                "draft_id": draft_id,
                "details": json.dumps(details, ensure_ascii=False, default=str),
            }
        )
    def draft_ready_details(self, conversation_id: int, draft_id: int) -> str | None:
        """The details (JSON) of the draft's `draft_ready` audit row, the latest if several; None without one."""
        row = self._one("SELECT details FROM events WHERE conversation_id = ? AND action = 'draft_ready' "
                        "AND draft_id = ? ORDER BY id DESC LIMIT 1", (conversation_id, draft_id))
        return row["details"] if row else None

    def events_for(self, conversation_id: int) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM events WHERE conversation_id = ? ORDER BY id", (conversation_id,))

    def count_events(self, conversation_id: int, action: str) -> int:
        return self._run("SELECT count(*) FROM events WHERE conversation_id = ? AND action = ?",
                         (conversation_id, action)).fetchone()[0]

    def events_named(self, action: str) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM events WHERE action = ? ORDER BY id", (action,))

    def last_event(self, action: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM events WHERE action = ? ORDER BY id DESC LIMIT 1", (action,))

    # ---- ratings and settings ----------------------------------------------------------------------------
    def add_rating(self, conversation_id: int, rating: int, customer_id: str) -> int:
        return self._insert(
            "ratings", {"conversation_id": conversation_id, "rating": rating, "customer_id": customer_id, "at": self.now()}
        )

    def ratings_for(self, conversation_id: int) -> list[int]:
        return [
            r["rating"]
            for r in self._all("SELECT rating FROM ratings WHERE conversation_id = ? ORDER BY id", (conversation_id,))
        ]

    def setting(self, key: str) -> str | None:
        row = self._one("SELECT value FROM settings WHERE key = ?", (key,))
        return row["value"] if row else None

    def set_setting(self, key: str, value: str) -> None:
        self._run(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (key, value, self.now()),
        )

    # ---- read models for commands, digest and export -----------------------------------------------------
    def export_conversations(self) -> Iterator[dict[str, Any]]:
        for conv in self._all("SELECT * FROM conversations ORDER BY id"):
            cid = conv["id"]
            conv["messages"] = self._all("SELECT * FROM messages WHERE conversation_id = ? ORDER BY id", (cid,))
            drafts = self._all("SELECT * FROM drafts WHERE conversation_id = ? ORDER BY id", (cid,))
            for d in drafts:
                d["sources"] = json.loads(d["sources"] or "[]")
            conv["drafts"] = drafts
            events = self.events_for(cid)
            for e in events:
                e["details"] = json.loads(e["details"] or "{}")
            conv["actions"] = events
            conv["ratings"] = self.ratings_for(cid)
            yield conv
