"""A learning curve: a team starts with a thin knowledge base and teaches the bot as it works, week by week.

    python bench/learning.py --train FILE --test FILE --text-col COL --label-col COL
                             [--seed-per-label K] [--weeks N] [--json] [--png FILE] [--no-approvals]
    python bench/learning.py --export-clinc150 DIR    # CLINC150 in-scope train/test as CSV files (text, intent)

The knowledge base starts as a folder of Markdown articles, one per label: K example questions from the train
split (default 3, drawn with a fixed seed) and one written answer. The test split, shuffled with a fixed seed,
arrives in N weeks (default 8). Each question is drafted first by the default offline drafter
(`KBDrafter.answer`, the bot's own path) and then the gold label plays the agent:

* a right draft (top article right, confidence at or above the handoff threshold) is approved unchanged, and
  that approval is itself a lesson, as in the bot: `bot.approvals.confirm`, the function the core calls when an
  agent approves a draft unchanged (bot/approvals.py), keeps the confirmation in a SQLite database (the bot's
  own store, a file in the run's temporary folder) and teaches the question to the article in the live index;
* a wrong draft is corrected and taught: the question is filed under the right article;
* a handed-off question (confidence below TANDEM_HANDOFF_THRESHOLD, 0.45) is answered and taught the same way.

Teaching is what `teach <conversation> <article>` does (bot/teach.py): the question, unless the article already
has it or nearly has it, is appended to the article's file (`status: draft`) through LiveKB.write, which
applies it to the running drafter's index incrementally (bot/drafting/update.py), as in the running bot; no
restart and no rebuild per question. When enough has changed, the drafter's background full rebuild runs; the
simulation waits for it before the next question (real questions arrive minutes apart, a rebuild of these
KBs takes well under a second). `--no-approvals` runs it as before approvals were lessons
(TANDEM_LEARN_FROM_APPROVALS=false): an approved draft teaches nothing, the agent approves it and moves on.

Per week: top-1 (share of the week's questions whose draft came from the right article, handed off or not),
handoff rate, approved-unchanged rate, questions taught (that week and cumulative), approvals that taught the
drafter a question (`confirmed`: not a repeat of one the article has), and beside them the top-1
of a knowledge base built from the whole train split on the same questions. `--json` prints one JSON object
with a `weeks` list; `--png` draws the curve (matplotlib). A progress bar runs on stderr when it is a terminal.
`--full-rebuilds` rebuilds the index from scratch on every teach instead, to compare the curve and the time;
`--embeddings` runs the drafter with the embeddings extra instead of the default one.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import tempfile
import time
from collections import OrderedDict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from bot import approvals, kb_edit  # noqa: E402
from bot.drafting.retrieval import KBDrafter  # noqa: E402
from bot.kb import KBError, load_kb  # noqa: E402
from bot.kb_import import label_of, read_labelled_csv, slug, title_for  # noqa: E402
from bot.kb_live import LiveKB  # noqa: E402
from storage import Store, open_db  # noqa: E402

HANDOFF_THRESHOLD = 0.45  # TANDEM_HANDOFF_THRESHOLD's default


def seed_kb(train: list[tuple[str, str]], per_label: int, folder: Path, seed: int) -> dict[str, str]:
    """Write one article per label with `per_label` example questions and a written answer; label -> article id."""
    by_label: OrderedDict[str, list[str]] = OrderedDict()
    for text, label in train:
        by_label.setdefault(label, []).append(text)
    rng = random.Random(seed)
    ids: dict[str, str] = {}
    for label, texts in by_label.items():
        picked = list(dict.fromkeys(rng.sample(texts, min(per_label, len(texts)))))
        article_id = slug(label)
        while article_id in ids.values():
            article_id += "-x"
        ids[label] = article_id
        meta = {"title": title_for(label), "intent": label, "questions": picked}
        body = f"The answer our team wrote for “{title_for(label)}”."
        text = f"---\n{yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)}---\n\n{body}\n"
        (folder / f"{article_id}.md").write_text(text, encoding="utf-8")
    return ids


def teach(kb: LiveKB, article_id: str, question: str) -> bool:
    """File the question under the article as `teach <conversation> <article>` does; False: it already had it."""
    article = kb.article(article_id)
    if kb_edit.near_duplicate(question, article.questions) is not None:
        return False
    text = kb_edit.add_question(kb.path_for(article_id).read_text(encoding="utf-8"), question, draft=True)
    kb.write(article_id, text)
    kb.drafter.wait_rebuilt()
    return True


class _Progress:
    """A rich progress bar on stderr (transient), only when stderr is a terminal."""

    def __init__(self, total: int):
        self.bar = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
                                transient=True)
            self.task = self.bar.add_task("questions", total=total)
            self.bar.start()

    def advance(self, description: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=description)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def simulate(train, test, per_label: int = 3, weeks: int = 8, seed: int = 0, threshold: float = HANDOFF_THRESHOLD,
             progress: bool = True, incremental: bool = True, encoder=None, learn_from_approvals: bool = True) -> dict:
    started, cpu_started = time.perf_counter(), time.process_time()
    labels = set(lab for _, lab in train)
    test = [(t, lab) for t, lab in test if lab in labels]  # a label the train split lacks has no article
    random.Random(seed).shuffle(test)
    full = KBDrafter(load_kb_from_rows(train), encoder=encoder)
    full_labels = [label_of(a) for a in full.index.articles]
    full_right = np.asarray([full_labels[o[0]] == lab for o, (_, lab) in
                             zip(full.rank([t for t, _ in test], k=1)[0], test)])
    with tempfile.TemporaryDirectory(prefix="tandem-learning-") as tmp:
        folder = Path(tmp)
        ids = seed_kb(train, per_label, folder, seed)
        kb = LiveKB(KBDrafter(load_kb(folder), encoder=encoder), folder)
        store = Store(open_db(folder / "tandem.db"))  # where the bot keeps confirmations (approvals as lessons)
        kb.drafter.incremental = incremental
        seeded = sum(len(a.questions) for a in kb.articles)
        bar = _Progress(len(test)) if progress else None
        out_weeks, cumulative, confirmed_total, done = [], 0, 0, 0
        for week, chunk in enumerate(np.array_split(np.arange(len(test)), weeks), start=1):
            right = handed = approved = taught = confirmed = 0
            week_started = time.perf_counter()
            for i in chunk:
                question, label = test[i]
                draft = kb.drafter.answer(question)
                ok = draft.sources[0].id == ids[label]
                handoff = draft.confidence < threshold or draft.needs_human
                right += ok
                handed += handoff
                if ok and not handoff:
                    approved += 1
                    if learn_from_approvals:  # what the core does when an agent approves a draft unchanged
                        confirmed += approvals.confirm(store, kb, article_id=draft.sources[0].id, question=question,
                                                       agent="bench")[1]
                        kb.drafter.wait_rebuilt()
                else:
                    taught += teach(kb, ids[label], question)
                if bar is not None:
                    bar.advance(f"week {week}/{weeks}")
            done += len(chunk)
            cumulative += taught
            confirmed_total += confirmed
            n = max(len(chunk), 1)
            out_weeks.append({
                "week": week, "questions": int(len(chunk)), "top1": right / n, "handoff_rate": handed / n,
                "approved_unchanged_rate": approved / n, "taught": taught, "taught_cumulative": cumulative,
                "confirmed": confirmed, "confirmed_cumulative": confirmed_total,
                "kb_questions": sum(len(a.questions) for a in kb.articles),
                "kb_confirmed": sum(len(a.confirmed) for a in kb.articles),
                "full_train_top1": float(full_right[chunk].mean()) if len(chunk) else 0.0,
                "seconds": round(time.perf_counter() - week_started, 2),
            })
        if bar is not None:
            bar.close()
        updates = dict(kb.drafter.updates)
        store.db.close()
    return {
        "labels": len(labels), "train_questions": len(train), "test_questions": len(test),
        "seed_per_label": per_label, "seeded_questions": seeded, "weeks_count": weeks, "seed": seed,
        "handoff_threshold": threshold, "drafter": "kb + MiniLM (embeddings extra)" if encoder is not None else "kb (default offline)", "incremental": incremental,
        "learn_from_approvals": learn_from_approvals,
        "full_train_top1": float(full_right.mean()), "index_updates": updates,
        "seconds": round(time.perf_counter() - started, 1), "cpu_seconds": round(time.process_time() - cpu_started, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()], "weeks": out_weeks,
    }


def load_kb_from_rows(rows):
    from bot.kb_import import articles_from_rows

    return articles_from_rows(rows)


def draw(report: dict, path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    weeks = [w["week"] for w in report["weeks"]]
    fig, ax = plt.subplots(figsize=(7, 4.6), dpi=120)
    ax.plot(weeks, [100 * w["top1"] for w in report["weeks"]], "o-", label="top-1 (taught as it works)")
    ax.plot(weeks, [100 * w["approved_unchanged_rate"] for w in report["weeks"]], "s--", label="approved unchanged")
    ax.plot(weeks, [100 * w["handoff_rate"] for w in report["weeks"]], "^:", label="handed off")
    ax.axhline(100 * report["full_train_top1"], color="grey", linestyle="-.",
               label=f"KB from the whole train split ({100 * report['full_train_top1']:.1f}%)")
    ax.set_xlabel("week")
    ax.set_ylabel("% of the week's questions")
    ax.set_ylim(0, 100)
    ax.set_xticks(weeks)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8, frameon=False)
    ax2 = ax.twinx()
    taught = [w["taught_cumulative"] for w in report["weeks"]]
    ax2.bar(weeks, taught, alpha=0.12, color="black")
    if report.get("learn_from_approvals"):  # stacked: approvals that taught a question
        ax2.bar(weeks, [w["confirmed_cumulative"] for w in report["weeks"]], bottom=taught, alpha=0.06,
                color="black", hatch="//")
        ax2.set_ylabel("taught + confirmed by approval (cumulative, bars)")
    else:
        ax2.set_ylabel("questions taught (cumulative, bars)")
    ax.set_zorder(ax2.get_zorder() + 1)  # the curves and their legend over the bars
    ax.patch.set_visible(False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def export_clinc150(folder: str) -> None:
    from bench import datasets as ds

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        with open(out / f"clinc150_{split}.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["text", "intent"])
            writer.writerows((t, lab) for t, lab in ds.clinc150(split) if lab != ds.OOS)
        print(out / f"clinc150_{split}.csv")


def table(report: dict) -> str:
    lines = ["| Week | Questions | Top-1 | Handoff rate | Approved unchanged | Taught (cumulative) "
             "| Confirmed by approval (cumulative) | KB questions (+ confirmed) | Top-1, KB from whole train |",
             "|---|---|---|---|---|---|---|---|---|"]
    for w in report["weeks"]:
        lines.append(f"| {w['week']} | {w['questions']} | {w['top1']:.1%} | {w['handoff_rate']:.1%} "
                     f"| {w['approved_unchanged_rate']:.1%} | {w['taught']} ({w['taught_cumulative']}) "
                     f"| {w['confirmed']} ({w['confirmed_cumulative']}) | {w['kb_questions']} (+{w['kb_confirmed']}) "
                     f"| {w['full_train_top1']:.1%} |")
    return "\n".join(lines)


def main(argv: list[str]) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train")
    parser.add_argument("--test")
    parser.add_argument("--text-col", default="text")
    parser.add_argument("--label-col", default="label")
    parser.add_argument("--seed-per-label", type=int, default=3)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object with a `weeks` list")
    parser.add_argument("--png", help="draw the curve into this PNG file")
    parser.add_argument("--full-rebuilds", action="store_true",
                        help="rebuild the index fully on every teach instead of updating it (for comparison)")
    parser.add_argument("--embeddings", action="store_true",
                        help="the drafter with the embeddings extra (vectors cached under .cache/, as bench/quality.py)")
    parser.add_argument("--no-approvals", action="store_true",
                        help="approvals teach nothing (TANDEM_LEARN_FROM_APPROVALS=false), for comparison")
    parser.add_argument("--title", help="the curve's title (default: the train file's folder)")
    parser.add_argument("--export-clinc150", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.export_clinc150:
        export_clinc150(args.export_clinc150)
        return None
    if not args.train or not args.test:
        parser.error("--train and --test are required")
    if args.seed_per_label < 1 or args.weeks < 1:
        parser.error("--seed-per-label and --weeks must be at least 1")
    try:
        train = read_labelled_csv(args.train, args.text_col, args.label_col)
        test = read_labelled_csv(args.test, args.text_col, args.label_col)
    except (KBError, OSError) as exc:
        parser.exit(2, f"learning.py: {exc}\n")
    encoder = None
    if args.embeddings:
        from bench.quality import cached_encoder

        encoder = cached_encoder()
        encoder.encode([t for t, _ in train + test])  # every text once, into the cache: no cache write per question
    report = simulate(train, test, args.seed_per_label, args.weeks, args.seed, incremental=not args.full_rebuilds,
                      encoder=encoder, learn_from_approvals=not args.no_approvals)
    report["dataset"] = {"train": args.train, "test": args.test}
    if args.png:
        name = args.title or Path(args.train).resolve().parent.name
        draw(report, args.png, f"{name}: {args.seed_per_label} questions per label to start, taught as it works")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(table(report))
        first, last = report["weeks"][0]["top1"], report["weeks"][-1]["top1"]
        confirmed = report["weeks"][-1]["confirmed_cumulative"]
        print(f"\nfirst week {first:.1%}, last week {last:.1%} ({100 * (last - first):+.1f} points); "
              f"KB from the whole train split {report['full_train_top1']:.1%}; "
              f"approvals {f'taught {confirmed} questions' if report['learn_from_approvals'] else 'off'}; "
              f"index updates {report['index_updates']}; "
              f"{report['seconds']} s wall, {report['cpu_seconds']} s CPU, load average {report['load_average']}")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
