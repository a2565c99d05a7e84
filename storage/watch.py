"""The numbers `/metrics` reads at scrape time: backlogs, failures, drafts by status, handoffs by reason and
the agents' queue, each one query on the live tables so what Prometheus sees is what the database holds.

Split from the main store so each file reads in one sitting; `Store` inherits these methods.
"""
from __future__ import annotations

from datetime import datetime

from storage.base import QUEUE_SQL
from storage.outbox import OutboxStore
from vocab.health import WatchSnapshot


class WatchStore(OutboxStore):
    def watch_snapshot(self) -> WatchSnapshot:
        """Everything `/metrics` reports from the database, read in one transaction."""
        with self.atomic():
            return WatchSnapshot(
                inbox_pending=self._one("SELECT count(*) AS n FROM inbox WHERE status = 'pending'")["n"],
                outbox_pending=self.outbox_backlog(),
                outbox_failed=self._by("SELECT platform AS k, count(*) AS n FROM outbox "
                                       "WHERE status = 'failed' GROUP BY platform"),
                drafts=self._by("SELECT status AS k, count(*) AS n FROM drafts GROUP BY status"),
                handoffs=self._by("SELECT COALESCE(json_extract(details, '$.reason'), 'unknown') AS k, count(*) AS n "
                                  "FROM events WHERE action = 'handoff' GROUP BY k"),
                **self._queue(),
            )

    def _by(self, sql: str) -> dict[str, int]:
        return {str(r["k"]): r["n"] for r in self._all(sql)}

    def _queue(self) -> dict:
        # the queue `/tandem queue` lists (Store.conversations_needing_agent), counted
        row = self._one(f"SELECT count(*) AS n, min(waiting_since) AS oldest FROM ({QUEUE_SQL})")
        oldest = 0.0
        if row["oldest"]:
            since = datetime.fromisoformat(row["oldest"])
            oldest = max(0.0, (self.clock() - since).total_seconds())
        return {"waiting": row["n"], "oldest_wait_s": oldest}
