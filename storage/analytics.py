"""Read-only queries behind the weekly digest, each named for the figure it feeds.

The digest runs over a log of a million messages in well under a second, so every query here is a
range scan on an index over one period [start, end) (ISO-8601 UTC strings, as the store writes them)
and does its counting in SQL. Values that need a median or a percentile come back row by row, one row per conversation or draft of
the period, each table read once.
Times are grouped by 15-minute UTC bucket ("YYYY-MM-DDTHH" + quarter), which the caller maps to local
days and hours: every time zone's offset is a multiple of 15 minutes, so no bucket straddles a local hour.
"""
from __future__ import annotations

import sqlite_utils

from vocab import AuditAction as A

# A 15-minute UTC bucket key for a timestamp column, e.g. '2024-03-10T14|2'.
_BUCKET = "substr({col}, 1, 13) || '|' || (CAST(substr({col}, 15, 2) AS INTEGER) / 15)"
_SECONDS = "round((julianday({b}) - julianday({a})) * 86400.0, 3)"  # julianday keeps ~1 ms
AGENT_ACTIONS = (A.APPROVE, A.EDIT, A.REJECT, A.TAKEOVER, A.HANDBACK, A.REPLY, A.RESOLVE, A.ASSIGN, A.NOTE)


def bucket_sql(col: str) -> str:
    return _BUCKET.format(col=col)


class Analytics:
    """Queries over one database; `start`/`end` are ISO UTC strings bounding a half-open period."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db

    def _rows(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        return self.db.execute(sql, params).fetchall()

    # ---- conversations (read from the covering index idx_conv_digest) ------------------------------------
    def conversations(self, start: str, end: str) -> list[tuple]:
        """One row per conversation opened in the period, in one pass over the covering index:
        (bucket, platform, state, human_involved, resolution_s, first_response_s).

        First response = the first reply the customer saw minus the customer's first message, which opened the
        conversation (so its time is created_at). The outbox stamps `first_response_at` when the first bot or
        agent message is delivered; without it, the first bot/agent message (delivered_at, else created_at).
        """
        first_out = (
            "coalesce(c.first_response_at, (SELECT min(coalesce(m.delivered_at, m.created_at)) FROM messages m "
            "WHERE m.conversation_id = c.id AND m.author_kind IN ('bot', 'agent')))"
        )
        return self._rows(
            f"""
            SELECT {bucket_sql('c.created_at')}, c.platform, c.state, c.human_involved,
                   CASE WHEN c.state = 'resolved' THEN {_SECONDS.format(a='c.created_at', b='c.resolved_at')} END,
                   {_SECONDS.format(a='c.created_at', b=first_out)}
            FROM conversations c WHERE c.created_at >= ? AND c.created_at < ?
            """,
            (start, end),
        )

    # ---- drafts (read from the covering index idx_drafts_digest) ------------------------------------------
    def draft_status_counts(self, start: str, end: str) -> dict[str, int]:
        return dict(self._rows(
            "SELECT status, count(*) FROM drafts WHERE created_at >= ? AND created_at < ? GROUP BY status",
            (start, end),
        ))

    def teaching(self, start: str, end: str) -> tuple[int, int, int, int]:
        """(questions taught, articles created by teaching, drafts whose top source is a taught article, of those
        approved unchanged) in the period. Discarded lessons do not count."""
        (taught, articles), = self._rows(
            "SELECT count(*), coalesce(sum(kind = 'article'), 0) FROM lessons "
            "WHERE status != 'discarded' AND created_at >= ? AND created_at < ?", (start, end))
        (drafts, approved), = self._rows(
            "SELECT count(*), coalesce(sum(status = 'approved'), 0) FROM drafts "
            "WHERE created_at >= ? AND created_at < ? AND json_extract(sources, '$[0].id') IN "
            "(SELECT article_id FROM lessons WHERE status != 'discarded')", (start, end))
        return taught, articles, drafts, approved

    def draft_status_by_bucket(self, start: str, end: str) -> list[tuple[str, str, int]]:
        """(15-minute bucket of created_at, status, drafts) for the drafts created in the period."""
        return self._rows(
            f"SELECT {bucket_sql('created_at')} AS bucket, status, count(*) FROM drafts "
            "WHERE created_at >= ? AND created_at < ? GROUP BY bucket, status",
            (start, end),
        )

    def draft_waits(self, start: str, end: str) -> list[tuple[str | None, float]]:
        """(decided_by, seconds) for each approved/edited/rejected draft: decided_at - drafted_at."""
        return self._rows(
            f"SELECT decided_by, {_SECONDS.format(a='drafted_at', b='decided_at')} AS s FROM drafts "
            "WHERE created_at >= ? AND created_at < ? AND status IN ('approved', 'edited', 'rejected') "
            "AND s IS NOT NULL",
            (start, end),
        )

    def edit_shares(self, start: str, end: str) -> list[float]:
        """edit_distance / length of the draft text, for each edited draft (a purged text's length is kept)."""
        return [r[0] for r in self._rows(
            "SELECT CAST(d.edit_distance AS REAL) / max((SELECT coalesce(x.text_chars, length(x.text)) FROM drafts x "
            "WHERE x.id = d.id), 1) "
            "FROM drafts d WHERE d.created_at >= ? AND d.created_at < ? AND d.status = 'edited' "
            "AND d.edit_distance IS NOT NULL",
            (start, end),
        )]

    def knowledge_gaps(self, start: str, end: str, low_confidence: float, limit: int = 3000) -> list[tuple[str, int]]:
        """(text, conversation id) of the customer messages (latest `limit`, newest first) whose draft failed, had
        low confidence, or was handed off for low confidence: what the knowledge base did not answer. Questions
        removed by the retention purge are gone."""
        return self._rows(
            "SELECT m.text, m.conversation_id FROM drafts d JOIN messages m ON m.id = d.message_id "
            "WHERE d.created_at >= ? AND d.created_at < ? AND m.purged_at IS NULL "
            "AND (d.status = 'failed' OR d.handoff_reason = 'low_confidence' OR d.confidence < ?) "
            "ORDER BY d.created_at DESC LIMIT ?",
            (start, end, low_confidence, limit),
        )

    def last_answers(self, conversation_ids: list[int]) -> list[tuple]:
        """For each of these conversations, the last answer the customer got, as `teach` would take it:
        (conversation id, author kind 'agent' | 'bot', its draft's status, drafted text, sent text, taught?),
        taught meaning a lesson (not discarded) was already taken from the conversation."""
        if not conversation_ids:
            return []
        marks = ",".join("?" * len(conversation_ids))
        return self._rows(
            f"""
            SELECT m.conversation_id, m.author_kind, d.status, d.text, coalesce(d.final_text, m.text),
                   EXISTS (SELECT 1 FROM lessons l WHERE l.conversation_id = m.conversation_id
                           AND l.status != 'discarded')
            FROM messages m LEFT JOIN drafts d ON d.id = m.draft_id
            WHERE m.id IN (SELECT max(x.id) FROM messages x WHERE x.conversation_id IN ({marks})
                           AND x.deleted_at IS NULL AND x.author_kind IN ('bot', 'agent') GROUP BY x.conversation_id)
            """,
            list(conversation_ids),
        )

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

    def action_counts(self, start: str, end: str, actions: tuple[A, ...]) -> dict[str, int]:
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
                   sum(action = 'approve'), sum(action = 'edit'), sum(action = 'reject')
            FROM events WHERE action IN ({marks}) AND at >= ? AND at < ? AND actor != 'tandem'
            GROUP BY actor
            """,
            (*AGENT_ACTIONS, start, end),
        )

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

    # ---- response-time targets ---------------------------------------------------------------------------
    def response_targets(self, start: str, end: str) -> list[tuple]:
        """(kind, met?, seconds past the target, agent) per target started in the period that was met (a reply
        by its due time) or missed (a late reply, a breach, or closed after its due time); those still running
        in time, or closed in time without a reply, are left out. `agent`: who had it when it broke."""
        return self._rows(
            """
            SELECT t.kind, t.answered_at IS NOT NULL AND t.answered_at <= t.due_at AND t.breached_at IS NULL,
                   t.past_s, COALESCE(t.breached_assignee, c.assignee, c.previous_assignee, '')
            FROM response_targets t JOIN conversations c ON c.id = t.conversation_id
            WHERE t.started_at >= ? AND t.started_at < ?
              AND (t.answered_at <= t.due_at OR t.breached_at IS NOT NULL OR t.closed_at > t.due_at)
            """,
            (start, end),
        )
