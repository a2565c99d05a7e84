"""The offline default drafter: picks the knowledge-base article that answers a question, or says it can't.

A support bot fails customers when it answers what it does not know, so the drafter does two jobs:
rank the articles, and say how likely the best one is right (the confidence the core compares with
TANDEM_HANDOFF_THRESHOLD / TANDEM_AUTO_THRESHOLD).

Ranking: every example question (and the title) of every article is a training example for a linear
SVM over TF-IDF word (1-2) and character (2-4) n-grams; its decision value plus the nearest example's
cosine similarity scores each article. With the optional embeddings extra (bot.drafting.embeddings) the
sentence embedding is appended to the features and its nearest-example similarity added to the score.

Confidence: a logistic curve over (top score, margin over the runner-up, nearest-example similarity,
and with embeddings how that similarity compares with the article's own examples' typical nearest-neighbour
similarity: a question far from an article relative to how tight its examples are is likely out of scope),
with coefficients fitted once on public validation data (bench/calibrate.py, see docs/quality.md), so
it reads as the probability that the top article is right.

The index itself (the TF-IDF rows, the SVMs and the scoring arithmetic, with the constants above) lives in
bot/drafting/index.py; a change to the knowledge base updates it incrementally (bot/drafting/update.py), and
the drafter swaps the new index in with one assignment.
"""
from __future__ import annotations

import asyncio
import logging
import math
import threading
import time

import numpy as np

from bot.drafting.base import DraftRequest, DraftResult
from bot.drafting.index import (  # noqa: F401  (re-exported: the drafter's names, as benchmarks and tests know them)
    CALIBRATION, EMB_SCALE, SVM_C, W_EMB, W_LEX, KBIndex, Match, _fit_one_vs_rest, example_texts,
)
from bot.drafting.update import REBUILD_SHARE, needs_rebuild, updated
from bot.kb import Article
from bot.language import detect
from vocab import Source

log = logging.getLogger(__name__)

# CPU seconds per answer (smoothed) under which the drafter answers on the event loop instead of in a worker
# thread. A thread only pays when it runs in parallel: this drafter's numpy/scipy work is too small to release
# the GIL for long, so a thread spent its time fighting the loop for it (each SQL statement the core runs hands
# the GIL over and waits to get it back), which cost the core ~0.4 ms of CPU per message on the sample KB
# (bench/intake.py --cpu) and could hold the loop for the 5 ms switch interval. An answer this cheap holds
# the loop for less; a bigger knowledge base (BANKING77's 10,000 questions: 3.5 ms) or the embeddings extra
# (onnxruntime releases the GIL) answer in a thread.
INLINE_CPU = 0.002


class KBDrafter:
    """Drafts the best article's answer with a calibrated confidence; `handoff: true` articles go to a person."""

    name = "kb"

    def __init__(self, articles: list[Article], encoder=None):
        started = time.perf_counter()
        self.index = KBIndex(articles, encoder=encoder)
        self.build_seconds = time.perf_counter() - started
        self.updates = {"full": 1, "incremental": 0}  # index builds of each kind so far (logs, tests, bench)
        self.last_update: dict = {"kind": "full", "refitted": len(articles), "seconds": self.build_seconds}
        self._lock = threading.Lock()  # one writer of self.index at a time: apply, or a rebuild swapping in
        self._rebuild: threading.Thread | None = None
        self.rebuild_share: float | None = None  # None: bot.drafting.update.REBUILD_SHARE; inf: never rebuild
        self.incremental = True  # False: every change rebuilds the index fully (the comparison in bench/learning.py)
        self.answer_cpu: float | None = None  # smoothed CPU seconds per answer; None until one is timed

    @property
    def kb_articles(self) -> list[Article]:
        return self.index.articles

    def apply(self, changed: list[Article], removed: list[str]) -> None:
        """Bring the index in step with changed (new or edited) and removed articles.

        Incrementally (bot.drafting.update): the change's examples and the SVMs it moves, nothing else. The new
        index is made beside the old one and swapped in with one assignment, so a draft in another thread
        always scores against one whole index. Once enough has changed since the last full build, a full
        build starts in a background thread (see `updated`)."""
        started = time.perf_counter()
        with self._lock:
            index, refitted = updated(self.index, changed, removed) if self.incremental else (None, 0)
            kind = "incremental"
            if index is None:
                kind, index = "full", self._full(self.index, changed, removed)
                refitted = len(index.articles)
            self.index = index
            self.updates[kind] += 1
            self.last_update = {"kind": kind, "refitted": refitted, "seconds": time.perf_counter() - started}
            share = REBUILD_SHARE if self.rebuild_share is None else self.rebuild_share
            if kind == "incremental" and needs_rebuild(index, share) and self._rebuild is None:
                self._rebuild = threading.Thread(target=self._rebuild_fully, name="tandem-kb-rebuild", daemon=True)
                self._rebuild.start()

    @staticmethod
    def _full(index: KBIndex, changed: list[Article], removed: list[str]) -> KBIndex:
        gone = set(removed) | {a.id for a in changed}
        articles = sorted([a for a in index.articles if a.id not in gone] + list(changed), key=lambda a: a.id)
        if not articles:
            raise ValueError("the knowledge base would have no articles")
        return KBIndex(articles, encoder=index.encoder)

    def _rebuild_fully(self) -> None:
        """Build the index afresh from the articles as they are now, then bring in whatever changed meanwhile."""
        try:
            snapshot = self.index
            fresh = KBIndex(snapshot.articles, encoder=snapshot.encoder)
            with self._lock:
                before = {a.id: a for a in snapshot.articles}
                now = self.index.articles
                changed = [a for a in now if before.get(a.id) is not a]
                removed = sorted(set(before) - {a.id for a in now})
                if changed or removed:
                    caught_up, _ = updated(fresh, changed, removed)
                    fresh = caught_up if caught_up is not None else self._full(fresh, changed, removed)
                self.index = fresh
                self.updates["full"] += 1
        except Exception:  # the incremental index stays in use; the next change tries again
            log.exception("knowledge base: the background rebuild of the index failed")
        finally:
            self._rebuild = None

    def wait_rebuilt(self) -> None:
        """Wait for a background rebuild in progress, if any (benchmarks, tests)."""
        worker = self._rebuild
        if worker is not None:
            worker.join()

    def rank(self, questions: list[str], k: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Batch form for evaluation: top-k article indexes, confidences, and the raw scores."""
        order, feats, total = self.index.features(questions)
        return order[:, :k], self.index.confidence(feats), total

    def answer(self, question: str, previous_language: str | None = None) -> DraftResult:
        """The top article's answer in the question's language; a message too short to tell keeps the
        conversation's previous draft language, else the article's."""
        order, conf, total = self.rank([question], k=3)
        top = self.index.articles[order[0, 0]]
        language, text = top.answer_in(detect(question, fallback=previous_language or top.language)[0])
        sources = tuple(
            Source(self.index.articles[i].id, self.index.articles[i].title, round(float(total[0, i]), 4))
            for i in order[0]
        )
        confidence = float(conf[0])
        if not math.isfinite(confidence):
            confidence = 0.0
        return DraftResult(
            text=text,
            language=language,
            confidence=round(confidence, 4),
            sources=sources,
            needs_human=top.handoff,
            reason="sensitive_topic" if top.handoff else None,
            drafter=self.name,
            model=self.index.encoder.name if self.index.encoder is not None else None,
            grounding_confidence=round(confidence, 4),
            grounding=text,
            unwritten=() if top.written else (top.id,),
            unreviewed=(top.id,) if top.is_draft else (),
        )

    async def aclose(self) -> None:
        return None  # nothing to release: the index lives in memory

    def _timed_answer(self, question: str, previous_language: str | None) -> DraftResult:
        started = time.thread_time()
        try:
            return self.answer(question, previous_language)
        finally:
            spent = time.thread_time() - started
            cpu = self.answer_cpu
            self.answer_cpu = spent if cpu is None else cpu + 0.1 * (spent - cpu)

    @property
    def answers_inline(self) -> bool:
        """True when an answer is computed on the event loop (see INLINE_CPU): only without an encoder, and once
        answers are timed below the mark; a knowledge base that grows past it goes back to the thread."""
        cpu = self.answer_cpu
        return self.index.encoder is None and cpu is not None and cpu < INLINE_CPU

    async def draft(self, request: DraftRequest) -> DraftResult:
        if self.answers_inline:
            return self._timed_answer(request.question, request.previous_language)
        return await asyncio.to_thread(self._timed_answer, request.question, request.previous_language)
