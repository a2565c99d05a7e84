"""Loaders for the public datasets the quality benchmark uses (see docs/quality.md for sources and licenses).

Each returns (text, label) rows; out-of-scope rows carry the label OOS.
"""
from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

OOS = "oos"
DATA = Path(os.environ.get("TANDEM_DATA", "/work/shared/data"))


def banking77(split: str) -> list[tuple[str, str]]:
    with open(DATA / "banking77" / f"{split}.csv", newline="", encoding="utf-8") as fh:
        return [(r["text"], r["category"]) for r in csv.DictReader(fh)]


def banking77_oos_intents() -> set[str]:
    """The 27 intents Zhang et al. hold out as in-domain out-of-scope, read from the dataset README."""
    text = (DATA / "banking77" / "README.md").read_text()
    block = text.split("hold out these 27 intents", 1)[1].split("(You can rebuild", 1)[0]
    names = set(re.findall(r"\b[a-z]+(?:_[a-z]+)+\b|\bage_limit\b", block.split(":", 1)[1]))
    assert len(names) == 27, names
    return names


def clinc150(split: str) -> list[tuple[str, str]]:
    """split: train / val / test; the matching oos_* rows are appended for val and test."""
    data = json.loads((DATA / "clinc150" / "data_full.json").read_text())
    rows = [(t, lab) for t, lab in data[split]]
    if split in ("val", "test"):
        rows += [(t, OOS) for t, _ in data[f"oos_{split}"]]
    return rows


def nlupp_banking() -> list[tuple[str, bool]]:
    """(text, is an explicit request for a person) over all 20 folds of NLU++ banking."""
    data = json.loads((DATA / "nlupp_banking" / "banking_all_folds.json").read_text())
    return [(ex["text"], "handoff" in (ex.get("intents") or [])) for ex in data]


def sgd_user_turns() -> list[str]:
    """Every customer turn of the Schema-Guided Dialogue banking extract: none of them asks for a person."""
    data = json.loads((DATA / "sgd_banks" / "sgd_banks_dialogues.json").read_text())
    return [t["utterance"] for d in data for t in d["turns"] if t["speaker"] == "USER"]
