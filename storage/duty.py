"""Queries for on-duty routing and response-time targets: who is on duty, how busy each agent is, and the
conversations' due times (the `duty` and `response_targets` tables of m008).

Split from the main store so each file reads in one sitting; `Store` inherits these methods.
"""
from __future__ import annotations

from typing import Any

from storage.base import StoreBase

OPEN_STATES = "('waiting_human', 'human')"  # a conversation an agent has to work on


class DutyStore(StoreBase):
    # ---- duty --------------------------------------------------------------------------------------------
    def set_duty(self, platform: str, workspace: str, user_id: str, name: str, on: bool, by: str) -> bool:
        """Put an agent on or off duty; False when they already were (nothing written)."""
        row = self.duty_agent(platform, workspace, user_id)
        if row is None and not on:
            return False
        if row is not None and bool(row["on_duty"]) == on and (not name or row["name"] == name):
            return False
        self.db.execute(
            "INSERT INTO duty (platform, workspace, user_id, name, on_duty, changed_at, changed_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (platform, workspace, user_id) DO UPDATE SET "
            "name = CASE WHEN excluded.name != '' THEN excluded.name ELSE duty.name END, "
            "on_duty = excluded.on_duty, changed_at = excluded.changed_at, changed_by = excluded.changed_by",
            (platform, workspace, user_id, name, int(on), self.now(), by))
        return row is None or bool(row["on_duty"]) != on

    def duty_agent(self, platform: str, workspace: str, user_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM duty WHERE platform = ? AND workspace = ? AND user_id = ?",
                         (platform, workspace, user_id))

    def find_duty_agent(self, platform: str, workspace: str, ref: str) -> dict[str, Any] | None:
        """An agent Tandem has seen on this platform, by user id or name (any case), in `workspace` (any
        workspace when it is '', as for the console; an agent of no workspace matches any)."""
        return self._one("SELECT * FROM duty WHERE platform = ? AND (workspace = ? OR ? = '' OR workspace = '') "
                         "AND (user_id = ? OR lower(name) = lower(?)) ORDER BY user_id = ? DESC, workspace = ? DESC "
                         "LIMIT 1", (platform, workspace, workspace, ref, ref, ref, workspace))

    def duty_agents(self, platform: str | None = None) -> list[dict[str, Any]]:
        """The agents on duty (of one platform, or all), with their open conversations (`open`), in round-robin
        order: the longest since their last assignment first."""
        where, params = ("AND d.platform = ?", (platform,)) if platform else ("", ())
        return self._all(
            f"""SELECT d.*, (SELECT count(*) FROM conversations c WHERE c.platform = d.platform
                              AND c.assignee_id = d.user_id AND c.state IN {OPEN_STATES}) AS open
                FROM duty d WHERE d.on_duty = 1 {where}
                ORDER BY d.turn IS NOT NULL, d.turn, d.changed_at, d.user_id""", params)

    def mark_assigned(self, platform: str, workspace: str, user_id: str) -> None:
        self.db.execute("UPDATE duty SET last_assigned_at = ?, turn = (SELECT coalesce(max(turn), 0) + 1 FROM duty) "
                        "WHERE platform = ? AND workspace = ? AND user_id = ?", (self.now(), platform, workspace, user_id))

    def open_conversations_of(self, platform: str, user_id: str) -> list[int]:
        """The open conversations assigned to an agent, oldest first."""
        rows = self._all(f"SELECT id FROM conversations WHERE platform = ? AND assignee_id = ? AND state IN "
                         f"{OPEN_STATES} ORDER BY id", (platform, user_id))
        return [r["id"] for r in rows]

    # ---- response-time targets ---------------------------------------------------------------------------
    def start_target(self, conversation_id: int, kind: str, started_at: str, warn_at: str, due_at: str) -> int | None:
        """Start waiting for a reply; None when the conversation already waits for one (at most one open)."""
        cur = self.db.execute(
            "INSERT INTO response_targets (conversation_id, kind, started_at, warn_at, due_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (conversation_id) WHERE closed_at IS NULL DO NOTHING",
            (conversation_id, kind, started_at, warn_at, due_at))
        return cur.lastrowid if cur.rowcount == 1 else None

    def open_target(self, conversation_id: int) -> dict[str, Any] | None:
        return self._one("SELECT * FROM response_targets WHERE conversation_id = ? AND closed_at IS NULL",
                         (conversation_id,))

    def target(self, target_id: int) -> dict[str, Any] | None:
        return self._one("SELECT * FROM response_targets WHERE id = ?", (target_id,))

    def has_targets(self, conversation_id: int) -> bool:
        return self._one("SELECT 1 AS x FROM response_targets WHERE conversation_id = ? LIMIT 1",
                         (conversation_id,)) is not None

    def close_target(self, target_id: int, *, answered: bool, past_s: float | None) -> None:
        now = self.now()
        self.db.execute("UPDATE response_targets SET closed_at = ?, answered_at = ?, past_s = ? WHERE id = ?",
                        (now, now if answered else None, past_s, target_id))

    def targets_to_alert(self, limit: int = 100) -> list[dict[str, Any]]:
        """Open targets whose warning or due time has passed without its alert queued, soonest first."""
        now = self.now()
        return self._all(
            "SELECT * FROM response_targets WHERE closed_at IS NULL AND "
            "((warned_at IS NULL AND warn_at <= ?) OR (breached_at IS NULL AND due_at <= ?)) ORDER BY warn_at LIMIT ?",
            (now, now, limit))

    def next_target_alert_at(self) -> str | None:
        row = self._one("SELECT min(CASE WHEN warned_at IS NULL THEN warn_at ELSE due_at END) AS at "
                        "FROM response_targets WHERE closed_at IS NULL AND breached_at IS NULL")
        return row["at"] if row else None

    def mark_target_alerted(self, target_id: int, level: str, assignee: str | None) -> None:
        """The alert of `level` (warning | breach) is queued; a breach also stands for a warning never sent."""
        if level == "warning":
            self.db.execute("UPDATE response_targets SET warned_at = ? WHERE id = ?", (self.now(), target_id))
            return
        self.db.execute("UPDATE response_targets SET breached_at = ?, warned_at = COALESCE(warned_at, ?), "
                        "breached_assignee = ? WHERE id = ?", (self.now(), self.now(), assignee, target_id))
