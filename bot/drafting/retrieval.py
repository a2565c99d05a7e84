"""The offline default drafter: retrieval over the Markdown knowledge base, no network, no model download.

Every example question (and the title) of every article is indexed with TF-IDF over words and character
n-grams; a question's best-matching article gives the answer, and the similarity and the margin over the
runner-up give the confidence.
"""
from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from scipy.sparse import hstack

from bot.drafting.base import DraftRequest, DraftResult
from bot.kb import Article
from bot.models import Source


@dataclass(frozen=True)
class Match:
    article: Article
    score: float


class KBIndex:
    def __init__(self, articles: list[Article]):
        self.articles = articles
        docs, owners = [], []
        for i, art in enumerate(articles):
            for text in (art.title, *art.questions):
                docs.append(text)
                owners.append(i)
        self.owners = np.array(owners)
        self.word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True)
        self.char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, lowercase=True)
        self.matrix = self._normalise(hstack([self.word.fit_transform(docs), self.char.fit_transform(docs)]).tocsr())

    @staticmethod
    def _normalise(m):
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        from scipy.sparse import diags

        return diags(1.0 / norms) @ m

    def search(self, question: str, k: int = 3) -> list[Match]:
        q = self._normalise(hstack([self.word.transform([question]), self.char.transform([question])]).tocsr())
        sims = (self.matrix @ q.T).toarray().ravel()
        best: dict[int, float] = {}
        for owner, sim in zip(self.owners, sims):
            if sim > best.get(owner, -1.0):
                best[owner] = float(sim)
        ranked = sorted(best.items(), key=lambda kv: -kv[1])[:k]
        return [Match(self.articles[i], s) for i, s in ranked]


def confidence_from(top: float, second: float) -> float:
    """Map similarity and margin to 0..1 with a logistic curve (coefficients fitted on held-out questions)."""
    z = 9.0 * top + 4.0 * (top - second) - 4.5
    return 1.0 / (1.0 + math.exp(-z))


class KBDrafter:
    name = "kb"

    def __init__(self, articles: list[Article]):
        started = time.perf_counter()
        self.index = KBIndex(articles)
        self.build_seconds = time.perf_counter() - started

    def answer(self, question: str) -> DraftResult:
        matches = self.index.search(question, k=3)
        if not matches:
            return DraftResult(text="", confidence=0.0, drafter=self.name, needs_human=True, reason="low_confidence")
        top = matches[0]
        second = matches[1].score if len(matches) > 1 else 0.0
        sources = tuple(Source(m.article.id, m.article.title, round(m.score, 4)) for m in matches)
        return DraftResult(
            text=top.article.answer,
            confidence=round(confidence_from(top.score, second), 4),
            sources=sources,
            needs_human=top.article.handoff,
            reason="sensitive_topic" if top.article.handoff else None,
            drafter=self.name,
        )

    async def draft(self, request: DraftRequest) -> DraftResult:
        return await asyncio.to_thread(self.answer, request.question)
