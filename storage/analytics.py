"""Read-only queries behind the weekly digest, each named for the figure it feeds.

The digest runs over a log of a million messages in well under a second, so every query here is a
range scan on an index over one period [start, end) (ISO-8601 UTC strings, as the store writes them)
and does its counting in SQL. Only values that need a median or a percentile come back row by row.
Times are grouped by 15-minute UTC bucket ("YYYY-MM-DDTHH" + quarter), which the caller maps to local
days and hours: every time zone's offset is a multiple of 15 minutes, so no bucket straddles a local hour.
"""
from __future__ import annotations

from typing import Any

import sqlite_utils

# A 15-minute UTC bucket key for a timestamp column, e.g. '2024-03-10T14|2'.
_BUCKET = "substr({col}, 1, 13) || '|' || (CAST(substr({col}, 15, 2) AS INTEGER) / 15)"
_SECONDS = "round((julianday({b}) - julianday({a})) * 86400.0, 3)"  # julianday keeps ~1 ms
# the core logs an edited draft as "edited" (the contract said "edit"): count both
AGENT_ACTIONS = ("approve", "edit", "edited", "reject", "takeover", "handback", "reply", "resolve", "assign", "note")
DECIDED = ("approved", "edited", "rejected")


def bucket_sql(col: str) -> str:
    return _BUCKET.format(col=col)


class Analytics:
    """Queries over one database; `start`/`end` are ISO UTC strings bounding a half-open period."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db

    def _rows(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        return self.db.execute(sql, params).fetchall()

    # ---- conversations -----------------------------------------------------------------------------------
    def conversations(self, start: str, end: str) -> list[tuple]:
        """One row per conversation opened in the period:
        (bucket, platform, state, human_involved, resolution_s, first_response_s).

        First response = first customer-visible bot/agent message (delivered_at, else created_at) minus the
        first customer message; None when either is missing or the reply came before the customer wrote.
        """
        first_in = (
            "(SELECT min(m.created_at) FROM messages m "
            "WHERE m.conversation_id = c.id AND m.author_kind = 'customer')"
        )
        first_out = (
            "(SELECT min(coalesce(m.delivered_at, m.created_at)) FROM messages m "
            "WHERE m.conversation_id = c.id AND m.author_kind IN ('bot', 'agent'))"
        )
        sql = f"""
            SELECT {bucket_sql('c.created_at')}, c.platform, c.state, c.human_involved,
                   CASE WHEN c.state = 'resolved' THEN {_SECONDS.format(a='c.created_at', b='c.resolved_at')} END,
                   {_SECONDS.format(a=first_in, b=first_out)}
            FROM conversations c
            WHERE c.created_at >= ? AND c.created_at < ?
        """
        return self._rows(sql, (start, end))

    def customer_messages_by_bucket(self, start: str, end: str) -> list[tuple[str, int]]:
        """(bucket, customer messages) for the busiest hours and days."""
        return self._rows(
            f"SELECT {bucket_sql('created_at')} AS b, count(*) FROM messages "
            "WHERE author_kind = 'customer' AND created_at >= ? AND created_at < ? GROUP BY b",
            (start, end),
        )

    # ---- drafts ------------------------------------------------------------------------------------------
    def draft_status_counts(self, start: str, end: str) -> dict[str, int]:
        return dict(
            self._rows(
                "SELECT status, count(*) FROM drafts WHERE created_at >= ? AND created_at < ? GROUP BY status",
                (start, end),
            )
        )

    def edit_shares(self, start: str, end: str) -> list[float]:
        """edit_distance / length of the draft text, for each edited draft."""
        return [
            r[0]
            for r in self._rows(
                "SELECT CAST(edit_distance AS REAL) / max(length(text), 1) FROM drafts "
                "WHERE status = 'edited' AND created_at >= ? AND created_at < ? AND edit_distance IS NOT NULL",
                (start, end),
            )
        ]

    def draft_waits(self, start: str, end: str) -> list[float]:
        """Seconds each decided draft (approved, edited, rejected) waited for an agent."""
        return [
            r[0]
            for r in self._rows(
                f"SELECT {_SECONDS.format(a='drafted_at', b='decided_at')} FROM drafts "
                "WHERE status IN ('approved', 'edited', 'rejected') AND created_at >= ? AND created_at < ? "
                "AND drafted_at IS NOT NULL AND decided_at IS NOT NULL",
                (start, end),
            )
        ]

    def knowledge_gaps(self, start: str, end: str, low_confidence: float, limit: int = 5000) -> list[str]:
        """Texts of customer messages the drafter could not answer well: failed, low confidence, or handed
        off for low confidence."""
        return [
            r[0]
            for r in self._rows(
                "SELECT m.text FROM drafts d JOIN messages m ON m.id = d.message_id "
                "WHERE d.created_at >= ? AND d.created_at < ? "
                "AND (d.status = 'failed' OR d.handoff_reason = 'low_confidence' OR d.confidence < ?) "
                "ORDER BY d.id LIMIT ?",
                (start, end, low_confidence, limit),
            )
        ]

    # ---- events ------------------------------------------------------------------------------------------
    def handoffs_by_reason(self, start: str, end: str) -> dict[str, int]:
        return {
            (reason or "unknown"): n
            for reason, n in self._rows(
                "SELECT json_extract(details, '$.reason') AS reason, count(*) FROM events "
                "WHERE action = 'handoff' AND at >= ? AND at < ? GROUP BY reason",
                (start, end),
            )
        }

    def action_counts(self, start: str, end: str, actions: tuple[str, ...]) -> dict[str, int]:
        marks = ",".join("?" * len(actions))
        return dict(
            self._rows(
                f"SELECT action, count(*) FROM events WHERE action IN ({marks}) AND at >= ? AND at < ? "
                "GROUP BY action",
                (*actions, start, end),
            )
        )

    # ---- agents ------------------------------------------------------------------------------------------
    def agent_activity(self, start: str, end: str) -> list[tuple]:
        """(actor, conversations handled, approvals, edits, rejections) from the agents' own actions."""
        marks = ",".join("?" * len(AGENT_ACTIONS))
        return self._rows(
            f"""
            SELECT actor, count(DISTINCT conversation_id),
                   sum(action = 'approve'), sum(action IN ('edit', 'edited')), sum(action = 'reject')
            FROM events WHERE action IN ({marks}) AND at >= ? AND at < ? AND actor != 'tandem'
            GROUP BY actor
            """,
            (*AGENT_ACTIONS, start, end),
        )

    def agent_response_times(self, start: str, end: str) -> list[tuple[str, float]]:
        """(agent, seconds) from a customer's message to the agent's answer: approved or edited drafts
        (decided_at - the customer message) and direct agent replies (- the latest customer message before)."""
        drafts = self._rows(
            f"SELECT d.decided_by, {_SECONDS.format(a='m.created_at', b='d.decided_at')} "
            "FROM drafts d JOIN messages m ON m.id = d.message_id "
            "WHERE d.status IN ('approved', 'edited') AND d.decided_at >= ? AND d.decided_at < ? "
            "AND d.decided_by IS NOT NULL",
            (start, end),
        )
        before = (
            "(SELECT max(p.created_at) FROM messages p WHERE p.conversation_id = m.conversation_id "
            "AND p.author_kind = 'customer' AND p.created_at <= m.created_at)"
        )
        replies = self._rows(
            f"SELECT coalesce(nullif(m.author_name, ''), m.author_id), {_SECONDS.format(a=before, b='m.created_at')} "
            "FROM messages m "
            "WHERE m.author_kind = 'agent' AND m.created_at >= ? AND m.created_at < ? AND m.draft_id IS NULL",
            (start, end),
        )
        return [(a, s) for a, s in drafts + replies if s is not None]

    # ---- ratings -----------------------------------------------------------------------------------------
    def csat(self, start: str, end: str) -> tuple[float | None, int, int]:
        """(average rating, ratings, rated conversations) for conversations opened in the period."""
        avg, n, rated = self._rows(
            "SELECT avg(r.rating), count(r.id), count(DISTINCT r.conversation_id) "
            "FROM conversations c JOIN ratings r ON r.conversation_id = c.id "
            "WHERE c.created_at >= ? AND c.created_at < ?",
            (start, end),
        )[0]
        return avg, n, rated
