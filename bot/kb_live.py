"""The knowledge base while Tandem runs: its folder, its articles now, and the drafter's index kept in step.

Teaching writes articles into `TANDEM_KB` and people edit the same files by hand; both must reach the next
draft without a restart. This module is the one place that knows the folder: it writes an article atomically
(a temporary file renamed over the old one, so a reader never sees half a file), notices files changed on
disk (by modification time and size, polled), re-reads just those, and hands the changed and removed
articles to the KB drafter's index (`KBDrafter.apply`, which updates it incrementally: bot/drafting/update.py).
A file that no longer parses is logged and its last good version kept, so a typo in an editor never takes the
bot down.

Questions agents confirmed by approving a draft unchanged (bot/approvals.py) are not in the files: LiveKB holds
the newest of them per article and gives every article it hands to the index its confirmed examples
(bot/confirmations.py), so a file written by teaching, edited by hand or rebuilt keeps them; `confirm` adds one
through the same path as a written file (the file is read again, unchanged).

Re-indexing is CPU work. When a write comes from the event loop's thread (a teaching command), the file is
written at once but the index update runs in one background thread (single-flight: writes that arrive while
it works are folded into its next pass), so acknowledgements are not held up; drafts meanwhile score against
the old index, which is replaced with one assignment. Called with no running loop (the CLI), it applies inline.
"""
from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import threading
from pathlib import Path

from bot import confirmations
from bot.kb import Article, KBError, bundled_kb_path, load_article

log = logging.getLogger(__name__)


class KBReadOnly(KBError):
    """The knowledge base in use cannot be written (the bundled sample): teaching needs TANDEM_KB."""


class LiveKB:
    def __init__(self, drafter, root: str | Path | None, confirmed: dict[str, list[str]] | None = None):
        self.drafter = drafter  # the KBDrafter whose index follows the folder
        # per article, the newest confirmed questions first (bot/approvals.py), at most confirmations.LOADED
        self._confirmed = {k: list(v[: confirmations.LOADED]) for k, v in (confirmed or {}).items()}
        self.writable = root is not None
        self.root = Path(root) if root is not None else bundled_kb_path()
        self._seen: dict[str, tuple[int, int]] = self._stat_all()
        self.changes = 0  # files applied since start (for logs and tests)
        self._pending: dict[str, Path] = {}  # files written on the loop, waiting for the background apply
        self._lock = threading.Lock()  # guards _pending and _worker
        self._apply_lock = threading.Lock()  # one index update at a time (background, scan, inline)
        self._worker: threading.Thread | None = None
        self._written: dict[str, Article | None] = {}  # written, not yet indexed (None: removed)
        self.applied = threading.Event()  # set whenever no background apply is pending
        self.applied.set()
        if self._confirmed:  # an index built without them (a drafter made elsewhere): one update brings them in
            now = self.drafter.index.articles
            changed = [new for old, new in zip(now, self._attach_all(now)) if new.confirmed != old.confirmed]
            if changed:
                self.drafter.apply(changed, [])

    # ---- reading -----------------------------------------------------------------------------------------
    @property
    def articles(self) -> list[Article]:
        return list(self.drafter.index.articles)

    def article(self, article_id: str) -> Article | None:
        with self._lock:
            if article_id in self._written:  # written, index update still running
                return self._written[article_id]
        return next((a for a in self.drafter.index.articles if a.id == article_id), None)

    def path_for(self, article_id: str) -> Path:
        return self.root / f"{article_id}.md"

    # ---- writing -----------------------------------------------------------------------------------------
    def write(self, article_id: str, text: str) -> Article:
        """Write an article file atomically and apply it to the index now; returns the article as loaded."""
        if not self.writable:
            raise KBReadOnly("the bundled sample knowledge base cannot be changed: set TANDEM_KB to a folder "
                             "of your own (`tandem kb init DIR` copies the sample there)")
        path = self.path_for(article_id)
        fd, tmp = tempfile.mkstemp(prefix=f".{article_id}.", suffix=".tmp", dir=self.root)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text if text.endswith("\n") else text + "\n")
                out.flush()
                os.fsync(out.fileno())
            article = load_article(Path(tmp))  # refuse to install a file that would not load
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        article = self._attach(load_article(path))  # as installed (its path is the article's own)
        self._apply_soon(path, article)
        return article

    def confirm(self, article_id: str, question: str) -> bool:
        """An agent approved this article's draft for `question` unchanged: draft from it as one of the article's
        examples from now on (applied like a written file). False when the article is gone or already has that
        question, or nearly (nothing to apply then)."""
        article = self.article(article_id)
        if article is None:
            return False
        with self._lock:
            known = self._confirmed.setdefault(article_id, [])
            known.insert(0, question)
            del known[confirmations.LOADED:]
        learned = confirmations.added(article, question)
        if learned is None:
            return False
        self._apply_soon(self.path_for(article_id), learned)
        return True

    def _attach(self, article: Article) -> Article:
        return self._attach_all([article])[0]

    def _attach_all(self, articles: list[Article]) -> list[Article]:
        with self._lock:
            confirmed = {a.id: list(self._confirmed.get(a.id, ())) for a in articles}
        return confirmations.attach(articles, confirmed)

    def remove(self, article_id: str) -> None:
        if not self.writable:
            raise KBReadOnly("the bundled sample knowledge base cannot be changed: set TANDEM_KB")
        path = self.path_for(article_id)
        path.unlink(missing_ok=True)
        self._apply_soon(path, None)

    def _apply_soon(self, path: Path, article: Article | None) -> None:
        """Apply a written file: inline when no event loop runs in this thread, else in the background."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self.refresh([path])
            return
        with self._lock:
            self._pending[path.name] = path
            self._written[path.stem] = article
            self.applied.clear()
            if self._worker is None:
                self._worker = threading.Thread(target=self._drain, name="tandem-kb-apply", daemon=True)
                self._worker.start()

    def _drain(self) -> None:
        while True:
            with self._lock:
                paths = list(self._pending.values())
                self._pending.clear()
                if not paths:
                    self._worker = None
                    self.applied.set()
                    return
            try:
                self.refresh(paths)
            except Exception:  # a failed apply must not leave the worker flagged as running
                log.exception("knowledge base: applying %s failed", ", ".join(p.stem for p in paths))
            with self._lock:
                for p in paths:
                    if p.name not in self._pending:
                        self._written.pop(p.stem, None)

    async def settled(self) -> None:
        """Wait (without blocking the loop) until every write so far is in the index."""
        await asyncio.to_thread(self.applied.wait)

    # ---- following the folder ----------------------------------------------------------------------------
    def _stat_all(self) -> dict[str, tuple[int, int]]:
        seen = {}
        for path in self.root.glob("*.md"):
            if path.name.lower() == "readme.md":
                continue
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            seen[path.name] = (st.st_mtime_ns, st.st_size)
        return seen

    def scan(self) -> list[str]:
        """Apply every article file added, changed or removed since the last look; returns their ids."""
        now = self._stat_all()
        changed = [self.root / name for name in set(now) | set(self._seen) if now.get(name) != self._seen.get(name)]
        if changed:
            self.refresh(changed)
        return sorted(p.stem for p in changed)

    def refresh(self, paths: list[Path]) -> None:
        """Re-read these files (a missing one is a removed article) and update the index with them."""
        with self._apply_lock:
            self._refresh(paths)

    def _refresh(self, paths: list[Path]) -> None:
        changed: list[Article] = []
        removed: list[str] = []
        for path in paths:
            try:
                st = path.stat()
            except FileNotFoundError:
                removed.append(path.stem)
                self._seen.pop(path.name, None)
                continue
            self._seen[path.name] = (st.st_mtime_ns, st.st_size)
            try:
                changed.append(self._attach(load_article(path)))
            except KBError as exc:
                log.warning("knowledge base: %s; the last good version of %s stays in use", exc, path.stem)
        if removed and len(removed) >= len(self.drafter.index.articles) and not changed:
            log.warning("knowledge base: every article file is gone from %s; keeping the index as it was", self.root)
            return
        if changed or removed:
            self.drafter.apply(changed, removed)
            self.changes += len(changed) + len(removed)
            log.info("knowledge base: applied %s%s", ", ".join(a.id for a in changed) or "",
                     (" removed " + ", ".join(removed)) if removed else "")

    async def watch(self, interval: float) -> None:
        """Poll the folder every `interval` seconds for as long as Tandem runs (a file's scan runs in a thread:
        re-indexing is CPU work that must not hold up acknowledgements)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.scan)
            except Exception:  # a watcher that dies would silently freeze the KB: log and keep watching
                log.exception("knowledge base: scanning %s failed; trying again in %gs", self.root, interval)
