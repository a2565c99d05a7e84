"""What one knowledge-base change costs the running drafter, and how close the incremental index stays to a rebuild.

    python bench/live_index.py [--changes 10,100,1000] [--seed 0] [--json]

On BANKING77 (TANDEM_DATA as for bench/quality.py): the KB is built from the train split with the largest
`--changes` count of its questions held out at random; those questions are then taught back one at a time,
each as the change teaching makes (the article with one more question, through `KBDrafter.apply`, the path
bot/kb_live.py uses), with the background full rebuild switched off so the drift is all incremental. It prints

* one change's cost: wall and CPU seconds (CPU of every thread of the process) per incremental apply,
  median and p90, against a full rebuild of the same ~10,000-question KB;
* top-1 on the test split after N incremental changes and after a full rebuild of the same articles.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench import datasets as ds  # noqa: E402
from bot.drafting.retrieval import KBDrafter  # noqa: E402
from bot.kb_import import articles_from_rows, label_of  # noqa: E402


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def top1(drafter: KBDrafter, test: list[tuple[str, str]]) -> float:
    order, _, _ = drafter.rank([t for t, _ in test], k=1)
    labels = [label_of(a) for a in drafter.index.articles]
    return float(np.mean([labels[o[0]] == lab for o, (_, lab) in zip(order, test)]))


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", default="10,100,1000", help="checkpoints, comma-separated (default 10,100,1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    args = parser.parse_args(argv)
    checkpoints = sorted({int(n) for n in args.changes.split(",")})
    train, test = ds.banking77("train"), ds.banking77("test")
    held = set(random.Random(args.seed).sample(range(len(train)), checkpoints[-1]))
    base = [row for i, row in enumerate(train) if i not in held]
    taught = [train[i] for i in sorted(held)]
    random.Random(args.seed + 1).shuffle(taught)

    drafter, build_wall, build_cpu = timed(lambda: KBDrafter(articles_from_rows(base)))
    drafter.rebuild_share = math.inf  # all drift incremental: no background rebuild
    by_label = {label_of(a): a.id for a in drafter.index.articles}
    report = {"dataset": "banking77", "base_questions": len(base), "load_average": os.getloadavg(),
              "full_build": {"wall_s": build_wall, "cpu_s": build_cpu}, "checkpoints": []}
    walls, cpus, refits = [], [], []
    for n, (question, label) in enumerate(taught, start=1):
        article = next(a for a in drafter.index.articles if a.id == by_label[label])
        changed = dataclasses.replace(article, questions=(*article.questions, question))
        _, wall, cpu = timed(lambda: drafter.apply([changed], []))
        assert drafter.last_update["kind"] == "incremental", drafter.last_update
        walls.append(wall), cpus.append(cpu), refits.append(drafter.last_update["refitted"])
        if n in checkpoints:
            incremental = top1(drafter, test)
            rebuilt, wall_full, cpu_full = timed(lambda: KBDrafter(drafter.index.articles))
            report["checkpoints"].append({
                "changes": n, "examples": len(drafter.index.docs), "top1_incremental": incremental,
                "top1_full": top1(rebuilt, test), "full_wall_s": wall_full, "full_cpu_s": cpu_full,
            })
    report["per_change"] = {
        "wall_ms_p50": 1000 * float(np.median(walls)), "wall_ms_p90": 1000 * float(np.percentile(walls, 90)),
        "cpu_ms_p50": 1000 * float(np.median(cpus)), "cpu_ms_p90": 1000 * float(np.percentile(cpus, 90)),
        "articles_refitted_mean": float(np.mean(refits)), "changes": len(walls),
    }
    report["load_average_end"] = os.getloadavg()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        pc, fb = report["per_change"], report["full_build"]
        print(f"load average {report['load_average'][0]:.2f} (start) / {report['load_average_end'][0]:.2f} (end)")
        print("| One change on BANKING77 train (~10,000 questions) | Wall | CPU |\n|---|---|---|")
        print(f"| full rebuild (initial build) | {fb['wall_s']:.2f} s | {fb['cpu_s']:.2f} s |")
        print(f"| incremental apply, median of {pc['changes']} | {pc['wall_ms_p50']:.0f} ms | {pc['cpu_ms_p50']:.0f} ms |")
        print(f"| incremental apply, p90 | {pc['wall_ms_p90']:.0f} ms | {pc['cpu_ms_p90']:.0f} ms |")
        print(f"\narticles refitted per change: {pc['articles_refitted_mean']:.1f} of {len(drafter.index.articles)}\n")
        print("| Changes applied | Examples | Top-1 incremental | Top-1 full rebuild | Rebuild wall / CPU |\n|---|---|---|---|---|")
        for c in report["checkpoints"]:
            print(f"| {c['changes']} | {c['examples']} | {c['top1_incremental']:.2%} | {c['top1_full']:.2%} "
                  f"| {c['full_wall_s']:.2f} s / {c['full_cpu_s']:.2f} s |")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
