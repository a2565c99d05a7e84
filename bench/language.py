"""Does a customer get the right article, in their own language? English and Indonesian held-out questions.

Each fixture holds paraphrases written apart from the KB's example questions (tests/fixtures/
sample_kb_eval.csv in English, sample_kb_eval_id.csv in Indonesian). For each language it prints the top-1
article accuracy and the share of drafts written in the customer's language (in-scope questions only; a row's
`language` column, when present, names the customer's language: the English file has one Indonesian question).

    python bench/language.py [--kb PATH]    # default: the bundled sample KB
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.drafting.retrieval import KBDrafter  # noqa: E402
from bot.kb import load_kb  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
SETS = [("en", FIXTURES / "sample_kb_eval.csv"), ("id", FIXTURES / "sample_kb_eval_id.csv")]


def measure(drafter: KBDrafter, language: str, path: Path) -> tuple[int, float, float]:
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["article"] != "oos"]
    results = [drafter.answer(r["question"]) for r in rows]
    top1 = sum(res.sources[0].id == r["article"] for res, r in zip(results, rows)) / len(rows)
    own = sum(res.language == r.get("language", language) for res, r in zip(results, rows)) / len(rows)
    return len(rows), top1, own


def main(argv: list[str]) -> None:
    kb = argv[argv.index("--kb") + 1] if "--kb" in argv else None
    drafter = KBDrafter(load_kb(kb))
    print("| Customer language | Questions | Top-1 | Drafts in the customer's language |\n|---|---|---|---|")
    for language, path in SETS:
        n, top1, own = measure(drafter, language, path)
        print(f"| {language} | {n} | {top1:.1%} | {own:.1%} |")


if __name__ == "__main__":
    main(sys.argv[1:])
