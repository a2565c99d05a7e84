"""Measure the drafter on labelled questions: does it pick the right article, and does it hand off what it can't answer?

The report is what `tandem kb eval` prints and what bench/quality.py tabulates. In-scope questions are
those whose label has an article; the rest (and those labelled `oos_label`) are out of scope and must be
handed off. A question is handed off when the confidence is below the threshold or the top article is
marked `handoff: true` (the same rule as the core).
"""
from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass

import numpy as np
from rich.progress import Progress

from bot.drafting.retrieval import KBDrafter
from bot.kb import Article
from bot.kb_import import label_of


@dataclass
class Outcome:
    gold: str | None  # None: out of scope
    ranked: list[str]
    confidence: float
    needs_human: bool  # the top article is marked `handoff: true`
    seconds: float

    def handed_off(self, threshold: float) -> bool:
        return self.confidence < threshold or self.needs_human


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def run(drafter: KBDrafter, rows: list[tuple[str, str]],
        oos_label: str | None = None, progress: bool = True) -> list[Outcome]:
    """Answer each question one by one through `KBDrafter.answer` (the real path), timing each.

    Handoff is decided in `report`, so one run can be reported at several thresholds."""
    by_id = {a.id: a for a in drafter.index.articles}
    labels = {label_of(a) for a in drafter.index.articles}
    outcomes = []
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("answering", total=len(rows))
        for text, label in rows:
            started = time.perf_counter()
            result = drafter.answer(text)
            seconds = time.perf_counter() - started
            ranked = [label_of(by_id[s.id]) for s in result.sources]
            gold = label if (label in labels and label != oos_label) else None
            outcomes.append(Outcome(gold, ranked, result.confidence, result.needs_human, seconds))
            bar.advance(task)
    return outcomes


def _ece(conf: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: how far confidence is from the observed rate of right answers."""
    if not len(conf):
        return 0.0
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(conf, edges) - 1, 0, bins - 1)
    return float(sum(abs(conf[idx == b].mean() - correct[idx == b].mean()) * (idx == b).mean()
                     for b in range(bins) if (idx == b).any()))


def report(outcomes: list[Outcome], drafter: KBDrafter, threshold: float, handoff_labels: set[str] = frozenset()) -> dict:
    ins = [o for o in outcomes if o.gold is not None]
    oos = [o for o in outcomes if o.gold is None]
    top1 = np.array([bool(o.ranked) and o.ranked[0] == o.gold for o in ins])
    top3 = np.array([o.gold in o.ranked[:3] for o in ins])
    # handing off a question whose own article says "handoff: true" is right, not a false handoff
    normal = [o for o in ins if o.gold not in handoff_labels]
    false_ho = np.array([o.handed_off(threshold) for o in normal])
    answered_right = np.array([t and not o.handed_off(threshold) for t, o in zip(top1, ins)])
    lat = np.array([o.seconds for o in outcomes]) * 1000
    conf_all = np.array([o.confidence for o in outcomes])
    right_all = np.array([o.gold is not None and bool(o.ranked) and o.ranked[0] == o.gold for o in outcomes])
    mean = lambda a: round(float(a.mean()), 4) if len(a) else None  # noqa: E731
    return {
        "questions": len(outcomes),
        "in_scope": len(ins),
        "out_of_scope": len(oos),
        "articles": len(drafter.index.articles),
        "top1_accuracy": mean(top1),
        "top3_accuracy": mean(top3),
        "handoff_recall": mean(np.array([o.handed_off(threshold) for o in oos])),
        "false_handoff_rate": mean(false_ho),
        "answered_correctly": mean(answered_right),
        "threshold": threshold,
        "calibration_error": round(_ece(conf_all, right_all), 4),
        "latency_ms_p50": round(float(np.percentile(lat, 50)), 3) if len(lat) else None,
        "latency_ms_p99": round(float(np.percentile(lat, 99)), 3) if len(lat) else None,
        "index_build_seconds": round(drafter.build_seconds, 3),
        "peak_memory_mb": peak_memory_mb(),
        "drafter": drafter.name,
        "embeddings": drafter.index.encoder.name if drafter.index.encoder is not None else None,
    }


def evaluate(articles: list[Article], rows: list[tuple[str, str]], threshold: float,
             oos_label: str | None = None, encoder=None, progress: bool = True) -> dict:
    drafter = KBDrafter(articles, encoder=encoder)
    outcomes = run(drafter, rows, oos_label, progress)
    return report(outcomes, drafter, threshold, {label_of(a) for a in articles if a.handoff})


def evaluate_taught(articles: list[Article], lessons: list[dict], threshold: float, encoder=None,
                    progress: bool = True) -> dict:
    """Replay every taught question (each lesson question -> article) against the knowledge base as it is now.

    The report is `report`'s, plus "taught" (how many lessons were asked) and "broken": each lesson whose question
    no longer ranks its article first (the article edited by hand, moved or removed), by id and question."""
    drafter = KBDrafter(articles, encoder=encoder)
    by_id = {a.id: a for a in articles}
    seen, asked = set(), []
    for lesson in lessons:
        if lesson["kind"] in ("question", "article") and (lesson["question"], lesson["article_id"]) not in seen:
            seen.add((lesson["question"], lesson["article_id"]))
            asked.append(lesson)
    rows = [(lesson["question"], label_of(by_id[lesson["article_id"]]) if lesson["article_id"] in by_id
             else lesson["article_id"]) for lesson in asked]
    outcomes = run(drafter, rows, progress=progress)
    result = report(outcomes, drafter, threshold, {label_of(a) for a in articles if a.handoff})
    result["taught"] = len(asked)
    result["broken"] = [
        {"lesson": lesson["id"], "article": lesson["article_id"], "question": lesson["question"],
         "reached": outcome.ranked[0] if outcome.ranked else None}
        for lesson, (_, label), outcome in zip(asked, rows, outcomes)
        if not outcome.ranked or outcome.ranked[0] != label or lesson["article_id"] not in by_id
    ]
    return result
