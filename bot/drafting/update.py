"""Keeping the knowledge-base index in step with a change without rebuilding it: a taught question is drafted
from at once, for a fraction of a rebuild's cost.

A full build fits the TF-IDF vocabularies and one linear SVM per article over every example (2-5 s for a
10,000-question KB). A change (a question taught, an article written or edited, a file removed) touches a few
examples, so `updated` makes a new index from the old one:

* The vectorizers stay fitted; the new examples are transformed with them, and terms they bring are added to
  the vocabularies (bot.drafting.tfidf `extended`; the character one only while the KB has under 2,000
  examples and keeps every n-gram). Their rows are appended and the removed ones dropped, so the
  nearest-example similarity sees a new question at once.
* Only the SVMs the change moves most are refitted. Article j's SVM is the solution of "j against every other
  example" with the squared hinge loss; an example j scores below -1 as a negative (outside the margin) has no
  loss and no weight in that solution, so adding or removing it leaves the solution exactly as it is (for the
  fixed features). So the refit covers the articles that own added or removed examples (new articles among
  them) and the articles that score one of those examples above -1, the `TOP_REFIT` highest per example: on a
  10,000-question KB that is nearly always all of them (4 of 77 articles on average for one BANKING77
  question, bench/live_index.py); on a thin KB most
  articles keep their negatives inside the margin, and only the highest-scoring ones (those that compete
  with the right article) are refitted, the rest left to the next full build. A new word's coefficient stays
  zero for the articles not refitted: where the new example carries no weight that is exact, since no other
  example has the word.
* What is left behind until the next full build: idf weights that no longer count the new examples, and new
  character n-grams when the KB is large (there a term needs two examples to enter the vocabulary, and the
  count of the first is not kept). `REBUILD_SHARE` bounds that drift: once the examples added or removed since
  the last full build reach 10% of the examples it had, the drafter rebuilds fully in a background thread
  (bot.drafting.retrieval `KBDrafter`). Each rebuild then pays for at least a tenth of the KB's worth of
  changes, so its cost per change stays at 1/(0.1 n) of a build (about 5 ms per change for 10,000 questions,
  against about 170 ms for the change itself);
  bench/live_index.py measures how close the incremental index stays to a full build in between.

The old index is never modified (every array that changes is a new one), so a draft scoring it in another
thread meanwhile reads one whole index, and the drafter swaps the new one in with one assignment.
"""
from __future__ import annotations

import copy

import numpy as np
from scipy.sparse import csr_matrix, vstack

from bot.drafting.linear import OneVsRest
from bot.drafting.index import EMB_SCALE, SVM_C, KBIndex, example_texts
from bot.kb import Article

REBUILD_SHARE = 0.10  # rebuild fully once examples changed since the last full build reach this share of them
REBUILD_MIN = 20  # ... and at least this many (a tiny KB would otherwise rebuild on every change)
MARGIN = -1.0  # an example an article scores above this (as a negative) may weigh in that article's SVM
TOP_REFIT = 5  # ... of which the highest-scoring this many per example are refitted


def _widen(m: csr_matrix, width: int) -> csr_matrix:
    """The same rows with columns appended for terms the vocabulary gained (all zero for these rows)."""
    return csr_matrix((m.data, m.indices, m.indptr), shape=(m.shape[0], width))


def _pad(coef: np.ndarray, rows: int, columns: np.ndarray, width: int) -> np.ndarray:
    """Old coefficients (features x old articles) placed at their articles' new columns, new rows zero."""
    if width == len(columns) and (columns == np.arange(width)).all():  # the same articles: copy, add rows
        return np.concatenate([coef, np.zeros((rows - coef.shape[0], width), dtype=np.float32)])
    out = np.zeros((rows, width), dtype=np.float32)
    out[: coef.shape[0], columns[columns >= 0]] = coef[:, columns >= 0]
    return out


def needs_rebuild(index: KBIndex, share: float = REBUILD_SHARE) -> bool:
    return index.changed_examples >= max(REBUILD_MIN, share * index.fitted_examples)


def _decisions(index: KBIndex, word, char, emb) -> np.ndarray:
    svm = word @ index.coef_word + char @ index.coef_char + index.intercept
    return svm + emb @ index.coef_emb if emb is not None else svm


def _inside_margin(decisions: np.ndarray) -> set[int]:
    """Columns of the articles worth refitting for these examples: within the margin and among the top few."""
    top = np.argsort(-decisions, axis=1)[:, :TOP_REFIT]
    return set(top[np.take_along_axis(decisions, top, axis=1) > MARGIN].tolist())


def updated(index: KBIndex, changed: list[Article], removed: list[str]) -> tuple[KBIndex | None, int]:
    """A new index with `changed` (new or edited) articles in and `removed` ones out, and how many articles'
    SVMs were refitted; (None, 0) when a full build is the better way (a KB of under 3 articles, or a change
    that moves most articles' SVMs)."""
    gone = set(removed) | {a.id for a in changed}
    articles = sorted([a for a in index.articles if a.id not in gone] + list(changed), key=lambda a: a.id)
    if not articles:
        raise ValueError("the knowledge base would have no articles")
    if index.intercept is None or len(index.articles) < 3 or len(articles) < 3:
        return None, 0
    position = {a.id: i for i, a in enumerate(articles)}
    moved = np.asarray([position.get(a.id, -1) for a in index.articles])  # old article -> new column (-1: gone)
    wanted = {a.id: example_texts(a) for a in changed}
    gone_columns = [i for i, a in enumerate(index.articles) if a.id in gone]
    keep = np.ones(len(index.docs), dtype=bool)
    kept: dict[str, set[str]] = {}
    for row in np.flatnonzero(np.isin(index.owners, gone_columns)):
        aid = index.articles[index.owners[row]].id
        if index.docs[row] in wanted.get(aid, ()):
            kept.setdefault(aid, set()).add(index.docs[row])
        else:
            keep[row] = False
    added = [(text, position[a.id]) for a in changed for text in wanted[a.id] if text not in kept.get(a.id, ())]
    dropped = np.flatnonzero(~keep)
    new = copy.copy(index)
    new.articles = articles
    if not added and not len(dropped):  # answers or metadata only: the same examples, the same SVMs
        return new, 0

    texts = [t for t, _ in added]
    n_docs = int(keep.sum()) + len(added)
    new.word, word_add = index.word.extended(texts, n_docs)
    new.char, char_add = index.char.extended(texts, n_docs)
    n_word, n_char = len(new.word.vocabulary_), len(new.char.vocabulary_)
    whole = not len(dropped)
    new.word_rows = vstack([_widen(index.word_rows if whole else index.word_rows[keep], n_word), word_add]).tocsr()
    new.char_rows = vstack([_widen(index.char_rows if whole else index.char_rows[keep], n_char), char_add]).tocsr()
    emb_add = index.encoder.encode(texts) if index.encoder is not None and texts else None
    if index.emb is not None:
        parts = [index.emb[keep]] + ([emb_add] if emb_add is not None else [])
        new.emb = np.vstack(parts).astype(np.float32)
    new.docs = [d for d, k in zip(index.docs, keep) if k] + texts
    new.owners = np.r_[moved[index.owners[keep]], [o for _, o in added]].astype(index.owners.dtype)
    new.changed_examples = index.changed_examples + len(added) + len(dropped)

    k = len(articles)
    new.coef_word = _pad(index.coef_word, n_word, moved, k)
    new.coef_char = _pad(index.coef_char, n_char, moved, k)
    new.coef_emb = _pad(index.coef_emb, index.coef_emb.shape[0], moved, k) if index.coef_emb is not None else None
    new.intercept = _pad(index.intercept[None, :], 1, moved, k)[0]
    refit = {o for _, o in added} | {int(o) for o in moved[index.owners[dropped]] if o >= 0}  # their owners
    if added:  # articles the new examples fall inside the margin of, in the new feature space
        refit |= _inside_margin(_decisions(new, word_add, char_add, emb_add))
    if len(dropped):  # articles a removed example may have weighed in (scored in the old index)
        emb_gone = index.emb[dropped] if index.emb is not None else None
        old = _decisions(index, index.word_rows[dropped], index.char_rows[dropped], emb_gone)
        refit |= {int(moved[j]) for j in _inside_margin(old) if moved[j] >= 0}
    if len(refit) > k // 2:
        return None, 0
    new.arrange()
    columns = sorted(refit)
    coef, intercept = OneVsRest(new.svm_features(), new.owners, C=SVM_C).fit(columns)
    coef = coef.T.astype(np.float32)
    new.coef_word[:, columns] = coef[:n_word]
    new.coef_char[:, columns] = coef[n_word : n_word + n_char]
    if new.coef_emb is not None:
        new.coef_emb[:, columns] = coef[n_word + n_char :] * EMB_SCALE
    new.intercept[columns] = intercept
    return new, len(columns)

