"""bench/learning.py on a tiny fixture: the JSON report's shape, teaching through the incremental apply, and the PNG."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIX = Path(__file__).parent / "fixtures"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "bench" / "learning.py"), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_two_weeks_on_a_tiny_fixture_print_one_json_object_with_weeks_and_draw_the_curve(tmp_path):
    png = tmp_path / "curve.png"
    done = run("--train", str(FIX / "faq_train.csv"), "--test", str(FIX / "faq_test.csv"), "--text-col", "question",
               "--label-col", "intent", "--seed-per-label", "1", "--weeks", "2", "--json", "--png", str(png))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["labels"] == 4 and report["seed_per_label"] == 1 and report["seeded_questions"] == 4
    assert [w["week"] for w in report["weeks"]] == [1, 2]
    assert sum(w["questions"] for w in report["weeks"]) == report["test_questions"] > 0
    for week in report["weeks"]:
        assert {"top1", "handoff_rate", "approved_unchanged_rate", "taught", "taught_cumulative", "kb_questions",
                "full_train_top1"} <= set(week)
        assert 0.0 <= week["top1"] <= 1.0 and 0.0 <= week["approved_unchanged_rate"] <= week["top1"]
    assert report["weeks"][-1]["taught_cumulative"] == sum(w["taught"] for w in report["weeks"])
    assert report["weeks"][-1]["kb_questions"] == report["seeded_questions"] + report["weeks"][-1]["taught_cumulative"]
    assert 0.0 <= report["full_train_top1"] <= 1.0
    last = report["weeks"][-1]
    assert report["learn_from_approvals"]
    assert last["confirmed_cumulative"] == sum(w["confirmed"] for w in report["weeks"])
    assert last["kb_confirmed"] == last["confirmed_cumulative"] > 0  # approvals taught the drafter questions
    # every teach and every approval that taught a question applied live, through the product's own paths
    assert sum(report["index_updates"].values()) == 1 + last["taught_cumulative"] + last["confirmed_cumulative"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_approvals_learns_only_from_what_is_taught():
    done = run("--train", str(FIX / "faq_train.csv"), "--test", str(FIX / "faq_test.csv"), "--text-col", "question",
               "--label-col", "intent", "--seed-per-label", "1", "--weeks", "2", "--json", "--no-approvals")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert not report["learn_from_approvals"] and report["weeks"][-1]["kb_confirmed"] == 0
    assert sum(report["index_updates"].values()) == 1 + report["weeks"][-1]["taught_cumulative"]


def test_a_missing_column_is_a_clear_message():
    done = run("--train", str(FIX / "faq_train.csv"), "--test", str(FIX / "faq_test.csv"), "--text-col", "text",
               "--label-col", "intent")
    assert done.returncode == 2 and "no column 'text'" in done.stderr and "question" in done.stderr
