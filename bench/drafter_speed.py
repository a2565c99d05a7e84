"""Where the offline drafter's time goes, and checks that the speed-ups changed no answer.

    python bench/drafter_speed.py                 # default drafter: SVM fit shared vs single, answer p50
    python bench/drafter_speed.py --embeddings    # also MiniLM encoding per question: numpy vs onnxruntime

On BANKING77 (KB from train, questions from test; TANDEM_DATA as for bench/quality.py) it prints:
* the index's SVM fitted once by liblinear vs shared over two threads (`_fit_one_vs_rest`): seconds each,
  the largest coefficient difference, and whether every test question gets the same top article;
* the median and p99 time of `KBDrafter.answer` per question;
* with --embeddings, the median time to encode one test question with the packaged int8 MiniLM and, when
  TANDEM_EMBEDDINGS_MODEL_DIR holds the float32 weights, with each float32 backend (numpy, onnxruntime),
  and the largest difference between their vectors.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from scipy.sparse import hstack  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402

from bench import datasets as ds  # noqa: E402
from bot.drafting import retrieval  # noqa: E402
from bot.kb_import import articles_from_rows  # noqa: E402


def timed(fn, *args):
    started = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - started


def percentiles(samples: list[float]) -> str:
    ms = np.asarray(samples) * 1000
    return f"p50 {np.median(ms):.1f} ms, p99 {np.percentile(ms, 99):.1f} ms"


def svm_check(index: retrieval.KBIndex, articles, questions: list[str], encoder) -> None:
    docs = [t for a in articles for t in dict.fromkeys((a.title, *a.questions))]
    lex = hstack([index.word.transform(docs), index.char.transform(docs)]).tocsr()
    X = index._features(lex, encoder.encode(docs) if encoder is not None else None)
    single, t_single = timed(lambda: LinearSVC(C=0.5).fit(X, index.owners))
    (coef, intercept), t_shared = timed(retrieval._fit_one_vs_rest, X, index.owners)
    Q = hstack([index.word.transform(questions), index.char.transform(questions)]).tocsr()
    if encoder is not None:
        Q = index._features(Q, encoder.encode(questions))
    same = ((Q @ coef.T + intercept).argmax(1) == single.decision_function(Q).argmax(1)).mean()
    print(f"  SVM fit: single {t_single:.1f} s, shared over 2 threads {t_shared:.1f} s; "
          f"max coefficient difference {np.abs(coef - single.coef_).max():.1e}; "
          f"same top article for {100 * same:.1f}% of {len(questions)} test questions")


def answer_times(drafter, questions: list[str]) -> str:
    for q in questions[:20]:
        drafter.answer(q)
    samples = []
    for q in questions[:500]:
        started = time.perf_counter()
        drafter.answer(q)
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def encoder_times(questions: list[str]) -> None:
    import os

    from bot.drafting.embeddings import MiniLMEncoder, PackagedMiniLMEncoder

    vectors = {}
    model_dir = os.environ.get("TANDEM_EMBEDDINGS_MODEL_DIR")
    makers = {"int8 (packaged)": PackagedMiniLMEncoder}
    if model_dir:
        makers.update({b: lambda b=b: MiniLMEncoder(model_dir, backend=b) for b in ("numpy", "onnxruntime")})
    for backend, make in makers.items():
        enc = make()
        for q in questions[:20]:
            enc.encode([q])
        samples = []
        for q in questions[:300]:
            started = time.perf_counter()
            enc.encode([q])
            samples.append(time.perf_counter() - started)
        vectors[backend], seconds = timed(enc.encode, questions[:1000])
        print(f"  MiniLM {backend}: one question {percentiles(samples)}; "
              f"1,000 questions in batches {1000 / seconds:.0f} a second")
    if model_dir:
        print(f"  max vector difference numpy vs onnxruntime: {np.abs(vectors['numpy'] - vectors['onnxruntime']).max():.1e}")
        cos = (vectors["int8 (packaged)"] * vectors["onnxruntime"]).sum(1)
        print(f"  cosine int8 vs float32: min {cos.min():.4f}, median {np.median(cos):.4f}")


def main(argv: list[str]) -> None:
    articles = articles_from_rows(ds.banking77("train"))
    questions = [t for t, _ in ds.banking77("test")]
    encoders = [None]
    if "--embeddings" in argv:
        from bench.quality import cached_encoder

        encoders.append(cached_encoder())
    for encoder in encoders:
        name = "lexical + MiniLM" if encoder else "lexical (default)"
        drafter, build = timed(retrieval.KBDrafter, articles, encoder)
        print(f"{name}: index for {len(drafter.index.owners):,} questions built in {build:.1f} s")
        svm_check(drafter.index, articles, questions, encoder)
        if encoder is not None:
            drafter.index.encoder = encoder.inner  # questions encoded live, as in the bot
        print(f"  answer: {answer_times(drafter, questions)}")
    if "--embeddings" in argv:
        encoder_times(questions)


if __name__ == "__main__":
    main(sys.argv[1:])
