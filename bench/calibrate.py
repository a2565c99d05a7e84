"""Fit the drafter's confidence curve (retrieval.CALIBRATION) on validation data only, never on test.

Data: BANKING77 train split 80/20 per intent with the 27 out-of-scope intents kept out of the KB (their
held-out 20% are the out-of-scope examples), plus CLINC150 with the KB from train and the val + oos_val
questions. The label is "the top article is right"; out-of-scope questions are always wrong.

    python bench/calibrate.py [--embeddings]     # prints the coefficients to paste into retrieval.py
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from bench import datasets as ds  # noqa: E402
from bot.drafting.retrieval import KBDrafter  # noqa: E402
from bot.kb_import import articles_from_rows, label_of  # noqa: E402


def banking_split(seed: int = 0):
    rows = ds.banking77("train")
    rng = random.Random(seed)
    by = {}
    for t, lab in rows:
        by.setdefault(lab, []).append(t)
    fit, held = [], []
    for lab, texts in by.items():
        rng.shuffle(texts)
        cut = int(len(texts) * 0.8)
        fit += [(t, lab) for t in texts[:cut]]
        held += [(t, lab) for t in texts[cut:]]
    return fit, held


def features(kb_rows, queries, exclude, encoder):
    arts = articles_from_rows(kb_rows, exclude=exclude)
    drafter = KBDrafter(arts, encoder=encoder)
    order, feats, _ = drafter.index.features([t for t, _ in queries])
    labels = [label_of(a) for a in arts]
    right = np.array([labels[o[0]] == lab for o, (_, lab) in zip(order, queries)])
    return feats, right


def main(use_embeddings: bool = False) -> None:
    encoder = None
    if use_embeddings:
        from bench.quality import cached_encoder
        encoder = cached_encoder()
    fit, held = banking_split()
    fa, ra = features(fit, held, ds.banking77_oos_intents(), encoder)
    fb, rb = features(ds.clinc150("train"), ds.clinc150("val"), set(), encoder)
    X, y = np.r_[fa, fb], np.r_[ra, rb]
    cols = [0, 1, 2, 3] if use_embeddings else [0, 1, 2]
    model = LogisticRegression(C=10.0, max_iter=1000).fit(X[:, cols], y)
    coef = [0.0] * 4
    for c, v in zip(cols, model.coef_[0]):
        coef[c] = round(float(v), 3)
    print(f"banking77 val top-1 {ra.mean():.4f} (OOS included as wrong), clinc val {rb.mean():.4f}")
    print('"%s": %r,' % ("embeddings" if use_embeddings else "lexical", (*coef, round(float(model.intercept_[0]), 3))))


if __name__ == "__main__":
    main("--embeddings" in sys.argv)
