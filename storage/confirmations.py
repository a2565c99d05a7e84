"""Approvals as lessons: the `confirmations` table (m014), one row per knowledge-base draft an agent approved
exactly as drafted (bot/approvals.py decides which approvals count; this module only keeps the rows).

Split from the main store so each file reads in one sitting; `Store` inherits these methods.
"""
from __future__ import annotations

from typing import Any

from storage.base import StoreBase

_COLUMNS = ("platform", "workspace", "conversation_id", "draft_id", "article_id", "question", "agent")

# The newest `per_article` rows of every article, newest first: what start-up loads into the drafter's index.
_RECENT = """
SELECT article_id, question FROM (
    SELECT article_id, question, id,
           ROW_NUMBER() OVER (PARTITION BY article_id ORDER BY id DESC) AS rank
    FROM confirmations)
WHERE rank <= ? ORDER BY article_id, id DESC"""


class ConfirmationStore(StoreBase):
    def add_confirmation(self, **fields: Any) -> int:
        """Keep one approval of a draft as drafted; `fields` are the confirmations columns."""
        unknown = set(fields) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"unknown confirmation fields: {', '.join(sorted(unknown))}")
        return self._insert("confirmations", {"created_at": self.now(), **fields})

    def confirmations(self, *, article_id: str | None = None,
                      conversation_id: int | None = None) -> list[dict[str, Any]]:
        """Confirmations oldest first, narrowed to an article and/or a conversation."""
        where, params = [], []
        for column, value in (("article_id", article_id), ("conversation_id", conversation_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        return self._all(f"SELECT * FROM confirmations{clause} ORDER BY id", params)

    def confirmed_questions(self, per_article: int) -> dict[str, list[str]]:
        """Per article, the questions of its newest `per_article` confirmations, newest first."""
        out: dict[str, list[str]] = {}
        for row in self._run(_RECENT, (per_article,)).fetchall():
            out.setdefault(row[0], []).append(row[1])
        return out
