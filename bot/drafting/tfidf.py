"""TF-IDF n-gram features for the offline drafter, without scikit-learn.

scikit-learn's TfidfVectorizer is what the drafter's features were designed with, but importing scikit-learn
loads SciPy's statistics package as well (its utilities need it), about 65 MB that a running bot never uses,
and that alone kept `tandem run` over its memory target. This module computes the same matrices with numpy and
scipy.sparse only: the same preprocessing (lower case), the same tokens (words of two or more word characters,
1-2 word n-grams; or character 2-4 n-grams inside word boundaries, padded with a space), the same vocabulary
order (sorted), the same smoothed idf (ln((1 + n) / (1 + df)) + 1), sublinear tf (1 + ln tf) and
L2-normalised rows. tests/test_tfidf.py checks it against scikit-learn's output on real questions.
"""
from __future__ import annotations

import copy
import re

import numpy as np
from scipy.sparse import csr_matrix

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_WHITE_SPACES = re.compile(r"\s\s+")


def _word_ngrams(text: str, low: int, high: int) -> list[str]:
    tokens = _TOKEN.findall(text.lower())
    grams = list(tokens) if low == 1 else []
    for n in range(max(low, 2), min(high, len(tokens)) + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def _char_wb_ngrams(text: str, low: int, high: int) -> list[str]:
    grams: list[str] = []
    for word in _WHITE_SPACES.sub(" ", text.lower()).split():
        word = f" {word} "
        for n in range(low, high + 1):
            if len(word) <= n:  # a word shorter than n counts once, whole
                grams.append(word)
                break
            grams.extend(word[i : i + n] for i in range(len(word) - n + 1))
    return grams


class TfidfVectorizer:
    """fit_transform / transform / vocabulary_ with scikit-learn's meaning for the options the drafter uses."""

    def __init__(self, analyzer: str = "word", ngram_range: tuple[int, int] = (1, 1), min_df: int = 1,
                 sublinear_tf: bool = False, dtype=np.float64):
        if analyzer not in ("word", "char_wb"):
            raise ValueError(f"analyzer must be 'word' or 'char_wb', not {analyzer!r}")
        self.analyzer, self.ngram_range, self.min_df = analyzer, ngram_range, min_df
        self.sublinear_tf, self.dtype = sublinear_tf, dtype
        self.vocabulary_: dict[str, int] = {}
        self.idf_: np.ndarray | None = None

    def _grams(self, text: str) -> list[str]:
        split = _word_ngrams if self.analyzer == "word" else _char_wb_ngrams
        return split(text, *self.ngram_range)

    def fit_transform(self, docs: list[str]):
        provisional: dict[str, int] = {}
        counts = self._count(docs, lambda g: provisional.setdefault(g, len(provisional)), 0)
        df = np.bincount(counts.indices, minlength=len(provisional))
        terms = sorted(t for t, j in provisional.items() if df[j] >= self.min_df)
        if not terms:
            raise ValueError("empty vocabulary: the documents have no terms")
        self.vocabulary_ = {t: i for i, t in enumerate(terms)}
        keep = np.fromiter((provisional[t] for t in terms), dtype=np.int64, count=len(terms))
        dfs = df[keep].astype(self.dtype)
        self.idf_ = (np.log((1 + len(docs)) / (1 + dfs)) + 1).astype(self.dtype)
        return self._weigh(counts.tocsc()[:, keep].tocsr())

    def transform(self, docs: list[str]):
        if self.idf_ is None:
            raise ValueError("the vectorizer is not fitted")
        return self._weigh(self._count(docs, self.vocabulary_.get, len(self.vocabulary_)))

    def extended(self, docs: list[str], n_docs: int) -> tuple["TfidfVectorizer", csr_matrix]:
        """A copy that also knows the terms `docs` bring, and their rows; `n_docs`: documents in all, these included.

        A knowledge base that grows by a question at a time keeps its fitted vectorizer (the rows of the
        other documents stay valid) and adds the new terms after the old ones. A new term's idf is what a
        fit would give it now, from its document frequency among `docs`: with min_df 1 every term of the
        fitted documents is already in the vocabulary, so `docs` are the only documents that have it. The
        old terms keep their idf until the next fit. With min_df > 1 a term's count among earlier documents
        is not known, so the vocabulary stays as fitted (self is returned)."""
        if self.idf_ is None:
            raise ValueError("the vectorizer is not fitted")
        if self.min_df > 1 or not docs:
            return self, self.transform(docs)
        grown = copy.copy(self)
        grown.vocabulary_ = dict(self.vocabulary_)  # self stays usable, unchanged, by whoever holds it
        start = len(grown.vocabulary_)
        counts = grown._count(docs, lambda g: grown.vocabulary_.setdefault(g, len(grown.vocabulary_)), 0)
        width = len(grown.vocabulary_)
        counts = csr_matrix((counts.data, counts.indices, counts.indptr), shape=(len(docs), width))
        if width > start:
            df = np.bincount(counts.indices, minlength=width)[start:].astype(self.dtype)
            grown.idf_ = np.r_[self.idf_, np.log((1 + n_docs) / (1 + df)) + 1].astype(self.dtype)
        return grown, grown._weigh(counts)

    def _count(self, docs: list[str], column, width: int) -> csr_matrix:
        """Term counts, one row per document; `column` maps an n-gram to its column (None: not a term)."""
        indptr, indices = [0], []
        for doc in docs:
            indices.extend(j for j in map(column, self._grams(doc)) if j is not None)
            indptr.append(len(indices))
        cols = np.asarray(indices, dtype=np.int64)
        m = csr_matrix((np.ones(len(cols), dtype=self.dtype), cols, np.asarray(indptr, dtype=np.int64)),
                       shape=(len(docs), max(width, int(cols.max()) + 1 if len(cols) else 0)))
        m.sum_duplicates()  # repeated n-grams of a document become one count
        return m

    def _weigh(self, m: csr_matrix) -> csr_matrix:
        """Counts -> sublinear tf x idf, each row scaled to unit length (an empty row stays empty)."""
        m = m.astype(self.dtype)
        if self.sublinear_tf:
            np.log(m.data, out=m.data)
            m.data += 1
        m.data *= self.idf_[m.indices]
        row_sq = np.add.reduceat(np.r_[m.data * m.data, 0], m.indptr[:-1]) if m.nnz else np.zeros(m.shape[0])
        row_sq[np.diff(m.indptr) == 0] = 0.0  # reduceat gives an empty row its next row's first value
        norms = np.sqrt(row_sq).astype(self.dtype)
        norms[norms == 0] = 1
        m.data /= np.repeat(norms, np.diff(m.indptr))
        return m
