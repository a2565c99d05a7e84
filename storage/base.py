"""The shared plumbing of the store: the clock, transactions and the few SQL helpers every query uses."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import sqlite_utils

from vocab.times import iso, utcnow  # noqa: F401  (re-exported for storage modules)


# The agents' queue: handed-off and owned conversations, and those with a draft awaiting review, each with the
# moment it started waiting and its reply's due time (response_targets). `queue` lists it, `/metrics` counts it:
# one definition for both.
QUEUE_SQL = """
    SELECT c.*, d.id AS draft_id, d.confidence AS draft_confidence,
           COALESCE(CASE WHEN c.state = 'waiting_human' THEN c.handoff_at END, d.drafted_at, c.updated_at)
               AS waiting_since,
           t.due_at AS due_at
    FROM conversations c
    LEFT JOIN drafts d ON d.conversation_id = c.id AND d.status = 'pending'
    LEFT JOIN response_targets t ON t.conversation_id = c.id AND t.closed_at IS NULL
    WHERE c.state IN ('waiting_human', 'human') OR d.id IS NOT NULL
"""
# Outbox rows still to be delivered: queued, or in flight when the process stopped.
UNDELIVERED = "status IN ('pending', 'sending')"


class StoreBase:
    def __init__(self, db: sqlite_utils.Database, clock: Callable[[], datetime] = utcnow):
        self.db = db
        self.clock = clock
        self._columns: dict[str, list[str]] = {}  # a query's result columns, by its text (see `_names`)
        main = next((row for row in db.execute("PRAGMA database_list").fetchall() if row[1] == "main"), None)
        self.path = (main[2] if main else "") or ":memory:"  # where a second connection finds the same data

    def _run(self, sql: str, params: tuple | list = ()):
        """One statement on the connection itself: sqlite-utils' `execute` adds a wrapper per call on the hot path;
        sqlite3 keeps each statement text prepared (its statement cache), so a repeated query is not re-parsed."""
        return self.db.conn.execute(sql, params)

    def now(self) -> str:
        if self.clock is utcnow:  # the running bot's clock: already UTC, so no conversion (a dozen calls a message)
            return datetime.now(timezone.utc).isoformat(timespec="microseconds")
        return iso(self.clock())

    def _names(self, sql: str, cur) -> list[str]:
        """The result columns of `sql`, worked out once per query text (a table's columns change only when the
        migrations run, before any query); checked against the cursor's count in case they ever do."""
        description = cur.description
        names = self._columns.get(sql)
        if names is None or len(names) != len(description):
            names = self._columns[sql] = [c[0] for c in description]
        return names

    def atomic(self):
        return self.db.atomic()

    def _one(self, sql: str, params: tuple | list = ()) -> dict[str, Any] | None:
        cur = self._run(sql, params)
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip(self._names(sql, cur), row))

    # Plain INSERT/UPDATE on the hot path: sqlite-utils' table helpers introspect the schema and open a
    # savepoint on every call, which was most of the cost of handling a message.
    def _insert(self, table: str, row: dict[str, Any]) -> int:
        columns = ", ".join(row)
        marks = ", ".join("?" * len(row))
        return self._run(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values())).lastrowid

    def _update(self, table: str, row_id: int, changes: dict[str, Any]) -> None:
        assignments = ", ".join(f"{column} = ?" for column in changes)
        self._run(f"UPDATE {table} SET {assignments} WHERE id = ?", [*changes.values(), row_id])

    def _returning(self, sql: str, params: tuple | list = ()) -> dict[str, Any] | None:
        """The one row a write's `RETURNING` clause gives (None without one). Every row is fetched, so the statement
        runs to its end and an implicit transaction commits here, not when the cursor is collected."""
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _all(self, sql: str, params: tuple | list = ()) -> list[dict[str, Any]]:
        cur = self._run(sql, params)
        cols = self._names(sql, cur)
        return [dict(zip(cols, r)) for r in cur.fetchall()]
