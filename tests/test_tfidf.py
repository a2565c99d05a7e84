"""The drafter's own TF-IDF and LIBLINEAR fits give scikit-learn's numbers (scikit-learn is only a dev dependency)."""
import csv
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer as Reference
from sklearn.svm import LinearSVC as ReferenceSVC

from bot.drafting.linear import LinearSVC
from bot.drafting.tfidf import TfidfVectorizer
from bot.kb import load_kb

FIX = Path(__file__).parent / "fixtures"
ODD = ["", "   ", "a b c", "Ok!!  ok", "I  can't\tlog in", "é à ü ß", "x" * 300, "saya tidak bisa masuk ke akun",
       "refund refund refund", "2FA code 123456", "?!", "naïve café"]


def _corpus() -> list[str]:
    docs = [q for a in load_kb() for q in (a.title, *a.questions)]
    with open(FIX / "faq_train.csv", newline="", encoding="utf-8") as fh:
        docs += [row["question"] for row in csv.DictReader(fh)]
    return docs + ODD


OPTIONS = [
    dict(ngram_range=(1, 2), sublinear_tf=True),
    dict(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True),
    dict(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2),
    dict(ngram_range=(1, 1)),
]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_same_vocabulary_and_weights_as_scikit_learn(options):
    docs = _corpus()
    ours, ref = TfidfVectorizer(dtype=np.float32, **options), Reference(dtype=np.float32, **options)
    a, b = ours.fit_transform(docs), ref.fit_transform(docs)
    assert ours.vocabulary_ == ref.vocabulary_
    assert a.shape == b.shape and abs(a - b).max() < 1e-6
    unseen = ["how do I close my account", "zzz qqq", "", "Refund!! please", "akun saya diblokir"]
    assert abs(ours.transform(unseen) - ref.transform(unseen)).max() < 1e-6
    assert np.allclose(np.asarray(ours.transform(unseen).multiply(ours.transform(unseen)).sum(axis=1)).ravel(),
                       [1.0 if r.nnz else 0.0 for r in ours.transform(unseen)], atol=1e-5)


def test_unfitted_and_empty_vocabulary_are_clear_errors():
    with pytest.raises(ValueError, match="not fitted"):
        TfidfVectorizer().transform(["hello"])
    with pytest.raises(ValueError, match="empty vocabulary"):
        TfidfVectorizer().fit_transform(["a", "?"])
    with pytest.raises(ValueError, match="analyzer"):
        TfidfVectorizer(analyzer="char")


def _problem():
    docs = [q for a in load_kb() for q in (a.title, *a.questions)]
    owners = np.asarray([i for i, a in enumerate(load_kb()) for _ in (a.title, *a.questions)])
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(docs), owners


def test_linear_svm_matches_scikit_learn_multi_class():
    X, y = _problem()
    ours, ref = LinearSVC(C=0.5).fit(X, y), ReferenceSVC(C=0.5).fit(X, y)
    assert list(ours.classes_) == list(ref.classes_)
    assert ours.coef_.shape == ref.coef_.shape
    assert np.abs(ours.coef_ - ref.coef_).max() < 1e-3
    assert np.abs(ours.intercept_ - ref.intercept_).max() < 1e-3
    assert ((X @ ours.coef_.T + ours.intercept_).argmax(1) == (X @ ref.coef_.T + ref.intercept_).argmax(1)).all()


@pytest.mark.parametrize("positive", [0, 5])
def test_linear_svm_matches_scikit_learn_binary_and_negative_labels(positive):
    X, y = _problem()
    labels = np.where(y == positive, positive, -1)  # the "anyone else" label the threaded fit uses
    ours, ref = LinearSVC(C=0.5).fit(X, labels), ReferenceSVC(C=0.5).fit(X, labels)
    assert list(ours.classes_) == list(ref.classes_) and ours.coef_.shape == ref.coef_.shape == (1, X.shape[1])
    assert np.abs(ours.coef_ - ref.coef_).max() < 1e-3
    assert np.abs(ours.intercept_ - ref.intercept_).max() < 1e-3


def test_linear_svm_needs_two_classes():
    X, _ = _problem()
    with pytest.raises(ValueError, match="two classes"):
        LinearSVC().fit(X, np.zeros(X.shape[0]))
