"""Outbox queries: outbound actions persisted before they are sent, and their delivery state.

Split from the main store so each file reads in one sitting; `Store` inherits these methods.

A row is `pending` until the dispatcher calls the platform, `sending` while it does, then `sent` or `failed`
(or `pending` again, for a retry). A row still `sending` when a process starts was in flight when the last
one died: the platform may have it already, and the dispatcher looks before sending it again.
"""
from __future__ import annotations

import json
from typing import Any

from storage.base import UNDELIVERED, StoreBase
from vocab import OutboxKind


class OutboxStore(StoreBase):
    def enqueue_action(
        self, platform: str, kind: OutboxKind, payload: dict, *, conversation_id: int | None = None,
        message_id: int | None = None, key: str | None = None,
    ) -> int | None:
        """Persist an outbound action before anyone tries to send it. Card updates coalesce per conversation;
        an action with an idempotency `key` is queued once ever (None when that key was queued before)."""
        kind = OutboxKind(kind)
        now = self.now()
        if kind == OutboxKind.UPSERT_CARD and conversation_id is not None:  # unless one waits; one statement
            cur = self._run(
                "INSERT INTO outbox (platform, kind, conversation_id, message_id, payload, next_attempt_at, created_at) "
                "SELECT ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE status = 'pending' "
                "AND kind = 'upsert_card' AND conversation_id = ? AND attempts = 0)",
                (platform, kind, conversation_id, message_id, json.dumps(payload, ensure_ascii=False), now, now,
                 conversation_id))
            return cur.lastrowid if cur.rowcount == 1 else None
        if key is not None:
            cur = self._run(
                "INSERT INTO outbox (platform, kind, conversation_id, message_id, payload, next_attempt_at, created_at,"
                " key) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) WHERE key IS NOT NULL DO NOTHING",
                (platform, kind, conversation_id, message_id, json.dumps(payload, ensure_ascii=False), now, now, key))
            return cur.lastrowid if cur.rowcount == 1 else None
        return self._insert(
            "outbox", {
                "platform": platform,
                "kind": kind,
                "conversation_id": conversation_id,
                "message_id": message_id,
                "payload": json.dumps(payload, ensure_ascii=False),
                "next_attempt_at": now,
                "created_at": now,
            }
        )
    def due_actions(self, limit: int = 50) -> list[dict[str, Any]]:
        """Pending actions due now; a message waits while an earlier one to the same conversation is pending."""
        return self._all(
            """
            SELECT * FROM outbox o
            WHERE o.status IN ('pending', 'sending') AND o.next_attempt_at <= ?
              AND NOT (o.kind = 'send_message' AND EXISTS (
                  SELECT 1 FROM outbox p WHERE p.conversation_id = o.conversation_id
                  AND p.status IN ('pending', 'sending')
                  AND p.kind = 'send_message' AND p.id < o.id))
            ORDER BY o.id LIMIT ?
            """,
            (self.now(), limit),
        )

    def next_action_due_at(self) -> str | None:
        row = self._one("SELECT min(next_attempt_at) AS at FROM outbox WHERE status IN ('pending', 'sending')")
        return row["at"] if row else None

    def mark_action_sending(self, action_id: int) -> None:
        """About to call the platform: if the process dies before `mark_action_sent`, the next one knows."""
        self._run("UPDATE outbox SET status = 'sending' WHERE id = ?", (action_id,))

    def unmark_action_sending(self, action_id: int) -> None:
        """Marked `sending` but never tried (its pass stopped first): pending again, so nobody looks for it."""
        self._run("UPDATE outbox SET status = 'pending' WHERE id = ? AND status = 'sending'", (action_id,))

    def mark_action_sent(self, action_id: int, ref: str = "") -> None:
        self._run(
            "UPDATE outbox SET status = 'sent', sent_at = ?, ref = ?, attempts = attempts + 1 WHERE id = ?",
            (self.now(), ref, action_id),
        )

    def mark_action_retry(self, action_id: int, error: str, next_attempt_at: str, *, in_flight: bool = False) -> None:
        """Try again later; `in_flight`: the platform may have it (no answer came), so stay `sending`."""
        self._run(
            "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
            ("sending" if in_flight else "pending", error, next_attempt_at, action_id),
        )

    def keep_parts_sent(self, action_id: int, done: int, first_ref: str) -> None:
        """A message split into several platform messages failed part-way: remember how far it got."""
        self._run(
            "UPDATE outbox SET payload = json_set(payload, '$.parts_done', ?, '$.first_ref', ?) WHERE id = ?",
            (done, first_ref, action_id),
        )

    def mark_action_dropped(self, action_id: int, why: str) -> None:
        """Not sent, on purpose: what it said is no longer true (an alert whose reply came first)."""
        self._run("UPDATE outbox SET status = 'dropped', last_error = ? WHERE id = ?", (why, action_id))

    def mark_action_failed(self, action_id: int, error: str) -> None:
        self._run(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?",
            (error, action_id),
        )

    def undelivered_count(self) -> int:
        return self._one("SELECT count(*) AS n FROM outbox WHERE status != 'sent' AND attempts > 0")["n"]

    def outbox_backlog(self) -> dict[str, int]:
        """Rows still to be delivered (queued or in flight), by platform: /healthz and /metrics."""
        rows = self._all(f"SELECT platform, count(*) AS n FROM outbox WHERE {UNDELIVERED} GROUP BY platform")
        return {r["platform"]: r["n"] for r in rows}

    def outbox_rows(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM outbox ORDER BY id")

    def set_card_ref(self, conversation_id: int, channel: str, ref: str) -> None:
        self._run(
            "UPDATE conversations SET card_channel = ?, card_ref = ? WHERE id = ?", (channel, ref, conversation_id)
        )
