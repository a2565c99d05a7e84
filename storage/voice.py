"""The team's past answers, for the LLM drafter's examples of the team's voice (bot/drafting/examples.py).

A pair is the customer's question and the answer that reached them, where a person stood behind the answer: a
draft an agent approved or edited, or an answer an agent wrote that was taught (the `lessons` table). Always
narrowed to one platform and workspace, newest first and bounded, so one workspace never sees another's
answers and the cost does not grow with the log.
"""
from __future__ import annotations

from typing import Any

from storage.base import StoreBase

_DRAFTS = """
SELECT d.conversation_id AS conversation_id, m.text AS question, COALESCE(d.final_text, d.text) AS answer
FROM drafts d JOIN conversations c ON c.id = d.conversation_id JOIN messages m ON m.id = d.message_id
WHERE d.status IN ('approved', 'edited') AND c.platform = ? AND c.workspace = ? AND d.id > ?
  AND m.deleted_at IS NULL AND COALESCE(d.final_text, d.text, '') != ''
ORDER BY d.id DESC LIMIT ?"""
_TAUGHT = """
SELECT conversation_id, question, answer FROM lessons
WHERE platform = ? AND workspace = ? AND answer != '' AND status != 'discarded'
ORDER BY id DESC LIMIT ?"""


class VoiceStore(StoreBase):
    def team_answers(self, platform: str, workspace: str, *, limit: int = 2000) -> list[dict[str, Any]]:
        """Up to `limit` recent (conversation_id, question, answer) pairs of this workspace that a person sent."""
        newest = self._one("SELECT MAX(id) AS top FROM drafts") or {}
        floor = max(0, (newest.get("top") or 0) - limit * 20)  # bounded scan over the recent drafts only
        rows = self._all(_DRAFTS, (platform, workspace, floor, limit))
        return rows + self._all(_TAUGHT, (platform, workspace, limit))
