"""Draft queries: drafting jobs, the drafts they produce, and what agents decide about them.

Split from the main store so each file reads in one sitting; `Store` inherits these methods. A draft is
`drafting` while a job waits for or sits in the drafter, then `pending` (awaiting review), `failed`, or decided
(`approved`, `edited`, `rejected`, `auto_sent`, `superseded`).
"""
from __future__ import annotations

import json

from storage.base import StoreBase
from storage.records import to_conversation, to_draft
from vocab import Draft, DraftJob


class DraftStore(StoreBase):
    def create_draft_job(self, conversation_id: int, message_id: int) -> int:
        return self._insert(
            "drafts", {
                "conversation_id": conversation_id,
                "message_id": message_id,
                "status": "drafting",
                "created_at": self.now(),
            }
        )

    def draft(self, draft_id: int) -> Draft | None:
        return to_draft(self._one("SELECT * FROM drafts WHERE id = ?", (draft_id,)))

    def draft_job(self, draft_id: int, *, language: bool = False) -> DraftJob | None:
        """The job with its conversation in one read (None if either is gone); `language` adds the conversation's
        latest draft language. What a worker builds its request from and a finished draft is applied against."""
        last = ("(SELECT l.language FROM drafts l WHERE l.conversation_id = d.conversation_id AND l.language IS NOT "
                "NULL ORDER BY l.id DESC LIMIT 1)") if language else "NULL"
        row = self._one(f"SELECT d.status AS job_status, d.message_id AS job_message_id, {last} AS job_language, c.* "
                        "FROM drafts d JOIN conversations c ON c.id = d.conversation_id WHERE d.id = ?", (draft_id,))
        if row is None:
            return None
        return DraftJob(row["job_status"], row["job_message_id"], to_conversation(row), row["job_language"])

    def drafts_in_progress(self, after_id: int = 0, limit: int = -1) -> list[Draft]:
        """Drafting jobs not yet finished, oldest first (only those with an id above `after_id`)."""
        return [to_draft(r) for r in self._all(
            "SELECT * FROM drafts WHERE status = 'drafting' AND id > ? ORDER BY id LIMIT ?", (after_id, limit))]

    def count_drafts_in_progress(self) -> int:
        return self._one("SELECT count(*) AS n FROM drafts WHERE status = 'drafting'")["n"]

    def has_draft_in_progress(self, conversation_id: int) -> bool:
        return self._one(
            "SELECT 1 AS x FROM drafts WHERE conversation_id = ? AND status = 'drafting' LIMIT 1", (conversation_id,)
        ) is not None

    def open_drafts(self, conversation_id: int) -> list[Draft]:
        """The conversation's drafts still drafting or awaiting review, newest first: what its card shows, in one
        read (a conversation has at most one open draft; the list tolerates more)."""
        return [to_draft(r) for r in self._all(
            "SELECT * FROM drafts WHERE conversation_id = ? AND status IN ('drafting', 'pending') ORDER BY id DESC",
            (conversation_id,))]

    def drafting_ids(self, after_id: int = 0, limit: int = 100) -> list[int]:
        """Ids of the drafting jobs above `after_id`, oldest first, read from the status index alone: what the
        core's feeder polls, so it must not build a record per job."""
        return [r[0] for r in self._run(
            "SELECT id FROM drafts WHERE status = 'drafting' AND id > ? ORDER BY id LIMIT ?", (after_id, limit))]

    def pending_draft(self, conversation_id: int) -> Draft | None:
        return to_draft(
            self._one(
                "SELECT * FROM drafts WHERE conversation_id = ? AND status = 'pending' ORDER BY id DESC LIMIT 1",
                (conversation_id,),
            )
        )

    def last_draft_language(self, conversation_id: int) -> str | None:
        """The language of the conversation's latest draft that has one (None before any)."""
        row = self._one("SELECT language FROM drafts WHERE conversation_id = ? AND language IS NOT NULL "
                        "ORDER BY id DESC LIMIT 1", (conversation_id,))
        return row["language"] if row else None

    def supersede_open_drafts(self, conversation_id: int, by: str) -> list[int]:
        """Mark the conversation's drafting and pending drafts superseded; their ids, oldest first."""
        rows = self._run("UPDATE drafts SET status = 'superseded', decided_at = ?, decided_by = ? "
                         "WHERE conversation_id = ? AND status IN ('drafting', 'pending') RETURNING id",
                         (self.now(), by, conversation_id)).fetchall()
        return sorted(r[0] for r in rows)

    def complete_draft(
        self,
        draft_id: int,
        *,
        status: str,
        text: str | None,
        sources: list[dict],
        confidence: float | None,
        drafter: str,
        model: str | None,
        latency_ms: float,
        handoff_reason: str | None = None,
        language: str | None = None,
    ) -> None:
        self._update(
            "drafts",
            draft_id,
            {
                "status": status,
                "text": text,
                "sources": json.dumps(sources, ensure_ascii=False),
                "confidence": confidence,
                "drafter": drafter,
                "model": model,
                "latency_ms": latency_ms,
                "handoff_reason": handoff_reason,
                "drafted_at": self.now(),
                **({"language": language} if language else {}),  # a drafter that does not say leaves it null
            },
        )

    def decide_draft(
        self,
        draft_id: int,
        status: str,
        decided_by: str,
        *,
        final_text: str | None = None,
        edit_distance: int | None = None,
        reject_reason: str | None = None,
    ) -> None:
        self._update(
            "drafts",
            draft_id,
            {
                "status": status,
                "decided_at": self.now(),
                "decided_by": decided_by,
                "final_text": final_text,
                "edit_distance": edit_distance,
                "reject_reason": reject_reason,
            },
        )
