"""The drafter's linear SVM, fitted by LIBLINEAR itself (the `liblinear-official` binding), not via scikit-learn.

scikit-learn's LinearSVC is a wrapper over LIBLINEAR; importing it costs about 65 MB of SciPy statistics code
the bot never runs (see bot/drafting/tfidf.py). `LinearSVC` here keeps the part of its interface the drafter
uses, `fit(X, y)` then `coef_`, `intercept_`, `classes_`, and the same problem: squared hinge loss, L2 penalty,
solved in the dual (LIBLINEAR `-s 1`), tolerance 1e-4, an intercept as a bias feature of 1 (`-B 1`),
one-vs-rest over the classes in sorted order, and for two classes one row whose positive class is the second.

LIBLINEAR runs in C without the GIL (ctypes releases it), so fits in two threads use both cores.

`OneVsRest` fits chosen classes' binary problems (class k against every other example) from one LIBLINEAR
problem built once: the knowledge-base index refits only the articles a change touches (bot/drafting/update.py).
"""
from __future__ import annotations

import numpy as np
from concurrent.futures import ThreadPoolExecutor
from ctypes import POINTER, c_double, cast

from liblinear.liblinear import parameter, problem
from liblinear.liblinearutil import train
from scipy.sparse import csr_matrix, issparse


class LinearSVC:
    def __init__(self, C: float = 1.0, tol: float = 1e-4, max_iter: int = 1000):
        self.C, self.tol, self.max_iter = C, tol, max_iter

    def fit(self, X, y) -> "LinearSVC":
        X = csr_matrix(X, dtype=np.float64) if issparse(X) else csr_matrix(np.asarray(X, dtype=np.float64))
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError("a linear SVM needs at least two classes")
        codes = np.searchsorted(self.classes_, y).astype(np.float64)  # labels as 0..k-1
        param = parameter(f"-s 1 -c {self.C} -e {self.tol} -B 1 -q")
        model = train(problem(codes, X, bias=1), param)
        n_w = 1 if model.nr_class == 2 else model.nr_class
        w = np.ctypeslib.as_array(model.w, shape=(model.nr_feature + 1, n_w)).T.copy()  # + the bias row
        labels = np.asarray(model.get_labels()[: model.nr_class], dtype=int)
        if n_w == 1:  # LIBLINEAR's single row scores its first label; ours scores classes_[1]
            w = w if labels[0] == 1 else -w
        else:
            w = w[np.argsort(labels)]
        self.coef_, self.intercept_ = w[:, :-1], w[:, -1] * model.bias
        return self


class OneVsRest:
    """Binary problems "class k against the rest" over one set of examples, the LIBLINEAR problem built once.

    Each fit is the problem LinearSVC solves for class k in a one-vs-rest fit over `owners` (same loss, C,
    tolerance and bias feature), so a refitted class scores as it would after a fit of every class."""

    def __init__(self, X, owners: np.ndarray, C: float = 1.0, tol: float = 1e-4):
        X = csr_matrix(X, dtype=np.float64)
        self.owners = np.asarray(owners)
        self.options = f"-s 1 -c {C} -e {tol} -B 1 -q"
        self.problem = problem(np.zeros(X.shape[0]), X, bias=1)

    def _fit(self, k: int) -> tuple[np.ndarray, float]:
        prob = self.problem.copy()  # shares the examples; its labels are its own
        n = prob.l
        y = (c_double * n)()
        np.ctypeslib.as_array(y, (n,))[:] = np.where(self.owners == k, 1.0, -1.0)
        prob.y, prob.labels_ = cast(y, POINTER(c_double)), y  # the second keeps the array alive
        model = train(prob, parameter(self.options))
        w = np.ctypeslib.as_array(model.w, shape=(model.nr_feature + 1,)).copy()
        if model.get_labels()[0] != 1:  # LIBLINEAR's row scores the label it met first
            w = -w
        return w[:-1], float(w[-1] * model.bias)

    def fit(self, classes, workers: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """Coefficients (len(classes) x features) and intercepts of each class against the rest."""
        classes = list(classes)
        if workers < 2 or len(classes) < 2:
            fits = [self._fit(k) for k in classes]
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="kb-refit") as pool:
                fits = list(pool.map(self._fit, classes))
        if not fits:
            return np.zeros((0, self.problem.n - 1)), np.zeros(0)
        return np.vstack([w for w, _ in fits]), np.asarray([b for _, b in fits])
