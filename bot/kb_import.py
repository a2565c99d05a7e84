"""Turn labelled example questions (a CSV as help desks export FAQ and intent data) into a knowledge base.

One article per label, the examples as its `questions`; the answer body is a placeholder for the team to
write. The label is kept in the front matter (`intent:`) so evaluation maps labels to articles exactly.
"""
from __future__ import annotations

import csv
import re
from collections import OrderedDict
from pathlib import Path

import yaml

from bot.kb import PLACEHOLDER, Article, KBError


def slug(label: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", str(label).strip().lower()).strip("-")
    return s or "label"


def read_labelled_csv(path: str | Path, text_col: str, label_col: str) -> list[tuple[str, str]]:
    """(text, label) rows; blank rows are skipped, a missing column is a KBError naming the columns found."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        for col in (text_col, label_col):
            if col not in cols:
                raise KBError(f"{path}: no column '{col}' (columns: {', '.join(cols)})")
        rows = [((r[text_col] or "").strip(), (r[label_col] or "").strip()) for r in reader]
    return [(t, lab) for t, lab in rows if t and lab]


def group_by_label(rows: list[tuple[str, str]]) -> "OrderedDict[str, list[str]]":
    groups: OrderedDict[str, list[str]] = OrderedDict()
    for text, label in rows:
        groups.setdefault(label, []).append(text)
    return groups


def title_for(label: str) -> str:
    words = re.sub(r"[_\-]+", " ", label).strip()
    return words[:1].upper() + words[1:]


def articles_from_rows(rows: list[tuple[str, str]], exclude: set[str] = frozenset()) -> list[Article]:
    """In-memory articles (no files), the same as `write_kb` would produce; labels in `exclude` are left out."""
    out = []
    for label, questions in group_by_label(rows).items():
        if label in exclude:
            continue
        out.append(Article(
            id=slug(label), title=title_for(label), answer=PLACEHOLDER.format(label=label),
            questions=tuple(dict.fromkeys(questions)), extra={"intent": label},
        ))
    return out


def write_kb(rows: list[tuple[str, str]], out_dir: str | Path, exclude: set[str] = frozenset()) -> list[Path]:
    """Write one Markdown article per label into `out_dir`; returns the files written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written, used = [], set()
    for art in articles_from_rows(rows, exclude):
        name = art.id
        n = 2
        while name in used:  # two labels with the same slug
            name, n = f"{art.id}-{n}", n + 1
        used.add(name)
        meta = {"title": art.title, "intent": art.extra["intent"], "questions": list(art.questions)}
        body = f"---\n{yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)}---\n\n{art.answer}\n"
        path = out / f"{name}.md"
        path.write_text(body, encoding="utf-8")
        written.append(path)
    return written


def label_of(article: Article) -> str:
    return str(article.extra.get("intent", article.id))
