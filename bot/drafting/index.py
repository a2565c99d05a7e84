"""The offline drafter's index: every article's example questions as TF-IDF rows and one linear SVM per article,
and the scoring of a question against them (how they combine and calibrate is told in bot/drafting/retrieval.py).

Kept apart from the drafter so that bot/drafting/update.py can make a new index from an old one (a change taught
or edited in the knowledge base) without the drafter and the update importing each other.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix, diags, hstack

from bot.drafting.linear import LinearSVC
from bot.drafting.tfidf import TfidfVectorizer
from bot.kb import Article

# Fusion weights of the ranking score: svm + W_LEX * lexical-nn + W_EMB * embedding-nn.
W_LEX, W_EMB, EMB_SCALE = 0.5, 1.0, 1.5
SVM_C = 0.5  # the SVM's regularisation (liblinear's C)
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


def _fit_one_vs_rest(X, owners: np.ndarray, C: float = SVM_C) -> tuple[np.ndarray, np.ndarray]:
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


def example_texts(article: Article) -> tuple[str, ...]:
    """The texts an article is recognised by: its title, its example questions and the questions agents confirmed
    by approving its drafts unchanged (bot/confirmations.py), each once, in order."""
    return tuple(dict.fromkeys((article.title, *article.questions, *article.confirmed)))


class KBIndex:
    """Everything needed to score articles for a question; built once per knowledge base, then kept in step
    with its changes by bot.drafting.update (which makes a new KBIndex from this one; none is ever modified).

    Examples are stored in the order they arrived (`docs`, `owners`, the TF-IDF rows); the matrices the
    scoring reads hold them grouped by article (`order`), so a question's per-article maxima are one reduceat."""

    def __init__(self, articles: list[Article], encoder=None):
        if not articles:
            raise ValueError("the knowledge base has no articles")
        self.articles = articles
        self.encoder = encoder
        docs, owners = [], []
        for i, art in enumerate(articles):
            for text in example_texts(art):
                docs.append(text)
                owners.append(i)
        self.docs, self.owners = docs, np.asarray(owners)
        min_df = 2 if len(docs) >= 2000 else 1
        self.word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32)
        self.char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True,
                                    min_df=min_df, dtype=np.float32)
        self.word_rows, self.char_rows = self.word.fit_transform(docs), self.char.fit_transform(docs)
        self.emb = encoder.encode(docs) if encoder is not None else None
        self.fitted_examples, self.changed_examples = len(docs), 0  # at the last full build; added/removed since
        self.arrange()
        self.intercept = None  # no SVM for a one-article KB
        if len(articles) > 1:
            coef, intercept = _fit_one_vs_rest(self.svm_features(), self.owners)
            self.set_coef(coef.T, intercept)

    def svm_features(self):
        """The SVM's training matrix: word | char n-grams (| scaled embedding), one row per example."""
        return self._features(hstack([self.word_rows, self.char_rows]).tocsr(), self.emb)

    def set_coef(self, coef: np.ndarray, intercept: np.ndarray) -> None:
        """Keep the SVM's decision function as plain products: (word | char | embedding) rows x article columns."""
        coef = np.ascontiguousarray(coef, dtype=np.float32)  # row per feature: cheap sparse @ dense
        n_word, n_lex = self.word_rows.shape[1], self.word_rows.shape[1] + self.char_rows.shape[1]
        self.coef_word, self.coef_char = coef[:n_word], coef[n_word:n_lex]
        self.coef_emb = coef[n_lex:] * EMB_SCALE if self.emb is not None else None
        self.intercept = np.asarray(intercept, dtype=np.float32)

    def arrange(self) -> None:
        """The example matrices scoring reads (features x examples, unit rows, grouped by article) from the rows."""
        self.order = np.argsort(self.owners, kind="stable")
        grouped = self.owners[self.order]
        self.starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
        scale = diags((1.0 / _row_norms(self.word_rows, self.char_rows)).astype(np.float32))
        # kept split by vectorizer so a question needs no sparse concatenation (see score)
        self.word_unit = (scale @ self.word_rows)[self.order].T.tocsr()
        self.char_unit = (scale @ self.char_rows)[self.order].T.tocsr()
        self.emb_grouped = self.emb[self.order] if self.emb is not None else None
        # how close an article's own examples are to each other: the yardstick for "is this question near it"
        self.typical_emb = self._typical_nn(self.emb_grouped) if self.emb is not None else None

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
        emb_nn = self._per_article_max(emb @ self.emb_grouped.T) if emb is not None else None
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
