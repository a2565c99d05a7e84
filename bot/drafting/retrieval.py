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
"""
from __future__ import annotations

import asyncio
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix, hstack

from bot.drafting.base import DraftRequest, DraftResult
from bot.drafting.linear import LinearSVC
from bot.drafting.tfidf import TfidfVectorizer
from bot.kb import Article
from bot.language import detect
from vocab import Source

# Fusion weights of the ranking score: svm + W_LEX * lexical-nn + W_EMB * embedding-nn.
W_LEX, W_EMB, EMB_SCALE = 0.5, 1.0, 1.5
# Logistic calibration of KBIndex.features' five columns (top score, margin, lexical nn, embedding nn,
# embedding nn minus the article's typical embedding nn) -> P(top article right),
# fitted by bench/calibrate.py on BANKING77 train (internal split) and CLINC150 val; intercept last.
CALIBRATION = {
    "lexical": (0.785, 1.7, 2.5, 0.0, 0.0, -1.636),
    "embeddings": (1.223, 1.413, 1.587, -0.685, 4.339, -1.411),
}


@dataclass(frozen=True)
class Match:
    article: Article
    score: float


def _row_norms(*parts) -> np.ndarray:
    """L2 norm of each row of the horizontal concatenation of sparse `parts` (0 -> 1, to divide by)."""
    norms = np.sqrt(sum(np.asarray(m.multiply(m).sum(axis=1)).ravel() for m in parts))
    norms[norms == 0] = 1.0
    return norms


def _unit_rows(m):
    from scipy.sparse import diags

    return diags((1.0 / _row_norms(m)).astype(np.float32)) @ m


def _fit_one_vs_rest(X, owners: np.ndarray, C: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """LinearSVC(C).fit(X, owners)'s coefficients (articles x features) and intercepts, with its one-vs-rest
    problems shared out over 2 threads.

    liblinear solves one binary problem per article, one after another, and that is most of an index build.
    Each thread fits the same multi-class SVM on labels where the articles of the other thread are one
    extra "anyone else" label (-1): its binary problem for article k is still k against every other
    example, so the coefficients are the ones a single fit gives (to liblinear's tolerance), in about 60%
    of the time on 2 cores (liblinear runs without the GIL)."""
    k = int(owners.max()) + 1
    workers = min(2, os.cpu_count() or 1)
    if workers < 2 or k < 8:
        svm = LinearSVC(C=C).fit(X, owners)
        return svm.coef_, svm.intercept_

    def fit(classes: np.ndarray):
        svm = LinearSVC(C=C).fit(X, np.where(np.isin(owners, classes), owners, -1))
        rows = np.searchsorted(svm.classes_, classes)
        return classes, svm.coef_[rows], svm.intercept_[rows]

    coef, intercept = np.zeros((k, X.shape[1])), np.zeros(k)
    with ThreadPoolExecutor(workers, thread_name_prefix="kb-index") as pool:
        for classes, c, b in pool.map(fit, [np.arange(i, k, workers) for i in range(workers)]):
            coef[classes], intercept[classes] = c, b
    return coef, intercept


class KBIndex:
    """Everything needed to score articles for a question; built once per knowledge base."""

    def __init__(self, articles: list[Article], encoder=None):
        if not articles:
            raise ValueError("the knowledge base has no articles")
        self.articles = articles
        self.encoder = encoder
        docs, owners = [], []
        for i, art in enumerate(articles):
            for text in dict.fromkeys((art.title, *art.questions)):  # dedupe, keep order
                docs.append(text)
                owners.append(i)
        self.owners = np.asarray(owners)
        self.starts = np.flatnonzero(np.r_[True, self.owners[1:] != self.owners[:-1]])
        min_df = 2 if len(docs) >= 2000 else 1
        self.word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32)
        self.char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True,
                                    min_df=min_df, dtype=np.float32)
        lex = hstack([self.word.fit_transform(docs), self.char.fit_transform(docs)]).tocsr()
        lex_unit = _unit_rows(lex).T.tocsr()  # features x examples
        n_word = len(self.word.vocabulary_)
        # kept split by vectorizer so a question needs no sparse concatenation (see score)
        self.word_unit, self.char_unit = lex_unit[:n_word], lex_unit[n_word:]
        self.emb = encoder.encode(docs) if encoder is not None else None
        # how close an article's own examples are to each other: the yardstick for "is this question near it"
        self.typical_emb = self._typical_nn(self.emb) if self.emb is not None else None
        self.intercept = None  # no SVM for a one-article KB
        if len(articles) > 1:
            coef, intercept = _fit_one_vs_rest(self._features(lex, self.emb), self.owners)
            # its decision function as plain products: (word | char | embedding) columns x articles
            coef = np.ascontiguousarray(coef.T, dtype=np.float32)  # row per feature: cheap sparse @ dense
            n_lex = lex.shape[1]
            self.coef_word, self.coef_char = coef[:n_word], coef[n_word:n_lex]
            self.coef_emb = coef[n_lex:] * EMB_SCALE if self.emb is not None else None
            self.intercept = intercept.astype(np.float32)

    def _typical_nn(self, vectors: np.ndarray) -> np.ndarray:
        """Per article: median similarity of each example to its nearest other example of the same article."""
        ends = np.r_[self.starts[1:], len(self.owners)]
        out = np.full(len(self.articles), np.nan)
        for k, (a, b) in enumerate(zip(self.starts, ends)):
            if b - a >= 2:
                sims = vectors[a:b] @ vectors[a:b].T
                np.fill_diagonal(sims, -np.inf)
                out[k] = np.median(sims.max(axis=1))
        return np.nan_to_num(out, nan=float(np.nanmedian(out)) if np.isfinite(out).any() else 0.0)

    def _features(self, lex, emb):
        if emb is None:
            return lex
        return hstack([lex, csr_matrix(emb * EMB_SCALE)]).tocsr()

    def _per_article_max(self, sims: np.ndarray) -> np.ndarray:
        return np.maximum.reduceat(sims, self.starts, axis=1)

    def score(self, questions: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Ranking scores (n x articles) and per-article nearest-example similarities (lexical, embedding).

        The same arithmetic as stacking the word and character n-grams (and the embedding) into one row
        and calling the SVM's decision_function, done part by part: a question is answered per message,
        and the stacking and input checks cost more than the products themselves."""
        word, char = self.word.transform(questions), self.char.transform(questions)
        sims = (word @ self.word_unit + char @ self.char_unit).toarray()
        lex_nn = self._per_article_max(sims / _row_norms(word, char)[:, None])
        emb = self.encoder.encode(questions) if self.encoder is not None else None
        emb_nn = self._per_article_max(emb @ self.emb.T) if emb is not None else None
        if self.intercept is not None:
            svm = word @ self.coef_word + char @ self.coef_char + self.intercept
            if emb is not None:
                svm = svm + emb @ self.coef_emb
            if svm.shape[1] == 1:  # two articles: one column, the second class's score
                svm = np.c_[-svm[:, 0], svm[:, 0]]
        else:
            svm = np.zeros_like(lex_nn)
        total = svm + W_LEX * lex_nn
        if emb_nn is not None:
            total = total + W_EMB * emb_nn
        return total, lex_nn, emb_nn

    def features(self, questions: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Article ranking (n x articles, best first), calibration features of the top article, raw scores."""
        if len(questions) > 256:  # bound the question x example similarity matrices
            parts = [self.features(questions[i : i + 256]) for i in range(0, len(questions), 256)]
            return tuple(np.concatenate(p) for p in zip(*parts))
        total, lex_nn, emb_nn = self.score(questions)
        order = np.argsort(-total, axis=1)
        rows = np.arange(len(questions))
        top, second = order[:, 0], order[:, 1] if total.shape[1] > 1 else order[:, 0]
        top_score = total[rows, top]
        margin = top_score - total[rows, second] if total.shape[1] > 1 else np.ones_like(top_score)
        emb_col = emb_nn[rows, top] if emb_nn is not None else np.zeros_like(top_score)
        emb_rel = emb_col - self.typical_emb[top] if emb_nn is not None else np.zeros_like(top_score)
        feats = np.c_[top_score, margin, lex_nn[rows, top], emb_col, emb_rel]
        return order, feats, total

    def confidence(self, feats: np.ndarray) -> np.ndarray:
        coef = np.asarray(CALIBRATION["embeddings" if self.encoder is not None else "lexical"])
        z = feats @ coef[:-1] + coef[-1]
        return 1.0 / (1.0 + np.exp(-z))

    def search(self, question: str, k: int = 3) -> list[Match]:
        order, _, total = self.features([question])
        return [Match(self.articles[i], float(total[0, i])) for i in order[0, :k]]


class KBDrafter:
    """Drafts the best article's answer with a calibrated confidence; `handoff: true` articles go to a person."""

    name = "kb"

    def __init__(self, articles: list[Article], encoder=None):
        started = time.perf_counter()
        self.index = KBIndex(articles, encoder=encoder)
        self.build_seconds = time.perf_counter() - started

    @property
    def kb_articles(self) -> list[Article]:
        return self.index.articles

    def apply(self, changed: list[Article], removed: list[str]) -> None:
        """Bring the index in step with changed (new or edited) and removed articles.

        The new index is built beside the old one and swapped in with one assignment, so a draft in another
        thread always scores against one whole index."""
        gone = set(removed) | {a.id for a in changed}
        articles = sorted([a for a in self.index.articles if a.id not in gone] + list(changed), key=lambda a: a.id)
        if not articles:
            raise ValueError("the knowledge base would have no articles")
        self.index = KBIndex(articles, encoder=self.index.encoder)

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

    async def draft(self, request: DraftRequest) -> DraftResult:
        return await asyncio.to_thread(self.answer, request.question, request.previous_language)
