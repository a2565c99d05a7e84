"""Does the confidence curve hold on small knowledge bases? It is fitted mostly on 50-150-article KBs.

Samples KBs of 10-40 articles x 8-15 examples from CLINC150 train and asks them CLINC150 test questions
(see bench.calibrate.sample_small_kb; different seeds from the small validation KBs used in the fit).

    python bench/small_kbs.py [--embeddings] [--threshold 0.45]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench import datasets as ds  # noqa: E402
from bench.calibrate import sample_small_kb  # noqa: E402
from bot.drafting.retrieval import KBDrafter  # noqa: E402
from bot.kb_import import articles_from_rows, label_of  # noqa: E402

SMALL_TEST = [(0, 20, 10), (1, 10, 8), (2, 40, 15)]


def main(argv: list[str]) -> None:
    threshold = float(argv[argv.index("--threshold") + 1]) if "--threshold" in argv else 0.45
    encoder = None
    if "--embeddings" in argv:
        from bench.quality import cached_encoder
        encoder = cached_encoder()
    print("| KB | Top-1 | OOS recall | False handoffs | Answered right |\n|---|---|---|---|---|")
    for seed, n_articles, n_examples in SMALL_TEST:
        kb, queries = sample_small_kb("test", seed, n_articles, n_examples)
        drafter = KBDrafter(articles_from_rows(kb), encoder=encoder)
        order, conf, _ = drafter.rank([t for t, _ in queries], k=1)
        labels = [label_of(a) for a in drafter.index.articles]
        oos = np.array([lab == ds.OOS for _, lab in queries])
        right = np.array([labels[o[0]] == lab for o, (_, lab) in zip(order, queries)])
        answered = conf >= threshold
        print(f"| {n_articles} articles x {n_examples} examples | {right[~oos].mean():.1%} "
              f"| {(~answered[oos]).mean():.1%} | {(~answered[~oos]).mean():.1%} | {(right & answered)[~oos].mean():.1%} |")


if __name__ == "__main__":
    main(sys.argv[1:])
