"""What agents taught the knowledge base: the `lessons` table (m007), one row per taught pair question -> article.

Split from the main store so each file reads in one sitting; `Store` inherits these methods. bot/teach.py
decides what a lesson is; this module only keeps the rows.
"""
from __future__ import annotations

from typing import Any

from storage.base import StoreBase

_COLUMNS = ("conversation_id", "platform", "workspace", "question", "answer", "language", "article_id", "kind",
            "taught_by")


class LessonStore(StoreBase):
    def add_lesson(self, **fields: Any) -> int:
        """Keep one taught pair; `fields` are the lessons columns (status starts as draft)."""
        unknown = set(fields) - set(_COLUMNS) - {"status"}
        if unknown:
            raise ValueError(f"unknown lesson fields: {', '.join(sorted(unknown))}")
        return self._insert("lessons", {"created_at": self.now(), **fields})

    def lesson(self, lesson_id: int) -> dict[str, Any] | None:
        return self._one("SELECT * FROM lessons WHERE id = ?", (lesson_id,))

    def lessons(self, *, status: str | None = None, article_id: str | None = None,
                conversation_id: int | None = None) -> list[dict[str, Any]]:
        """Lessons oldest first, narrowed to a status, an article and/or a conversation."""
        where, params = [], []
        for column, value in (("status", status), ("article_id", article_id), ("conversation_id", conversation_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        return self._all(f"SELECT * FROM lessons{clause} ORDER BY id", params)

    def decide_lessons(self, lesson_ids: list[int], status: str, decided_by: str) -> None:
        """A lead approved or discarded these lessons."""
        if not lesson_ids:
            return
        marks = ",".join("?" * len(lesson_ids))
        self.db.execute(f"UPDATE lessons SET status = ?, decided_by = ?, decided_at = ? WHERE id IN ({marks})",
                        [status, decided_by, self.now(), *lesson_ids])
