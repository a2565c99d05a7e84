"""Editing article files the way a person would: the front matter keeps its order, the body stays as written.

Teaching and review change Markdown files that people also edit by hand and keep in git, so every change here
is a small, readable diff: a question appended to `questions`, `status: draft` set or removed, an answer
replaced, a few `taught_*` / `approved_*` keys. Each function takes the file's text and returns the new text;
writing it (atomically, into the index at once) is bot/kb_live.py's job.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import frontmatter
import yaml
from rapidfuzz import fuzz, process

NEAR_DUPLICATE = 90  # rapidfuzz ratio (0-100) of two normalised questions at or above which they are one question
_WORDS = re.compile(r"[^\w]+", re.UNICODE)


def normalised(text: str) -> str:
    """A question as near-duplicates are judged: lower case, words only, single spaces."""
    return " ".join(_WORDS.sub(" ", text.lower()).split())


def repeats(question: str, known: Sequence[str]) -> int | None:
    """The position of a question of `known` that `question` repeats (the same words, or nearly: a typo,
    punctuation), if any; both already `normalised` (a caller comparing many questions normalises each once)."""
    hit = process.extractOne(question, known, scorer=fuzz.ratio, score_cutoff=NEAR_DUPLICATE)
    return None if hit is None else hit[2]


def near_duplicate(question: str, known: tuple[str, ...] | list[str]) -> str | None:
    """The known question `question` repeats (the same words, or nearly: a typo, punctuation), if any."""
    at = repeats(normalised(question), [normalised(other) for other in known])
    return None if at is None else known[at]


def _load(text: str) -> frontmatter.Post:
    return frontmatter.loads(text)


class _Dumper(yaml.SafeDumper):
    """Lists indented under their key (`questions:` then `  - ...`), as people write them in these files."""

    def increase_indent(self, flow: bool = False, indentless: bool = False):
        return super().increase_indent(flow, False)


def _dump(post: frontmatter.Post) -> str:
    return frontmatter.dumps(post, Dumper=_Dumper, sort_keys=False, width=10_000) + "\n"


def _questions(post: frontmatter.Post) -> list[str]:
    value = post.metadata.get("questions")
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def add_question(text: str, question: str, *, draft: bool) -> str:
    """The article with `question` appended to its examples (and `status: draft` when `draft`)."""
    post = _load(text)
    post.metadata["questions"] = [*_questions(post), question]
    if draft:
        post.metadata["status"] = "draft"
    return _dump(post)


def remove_questions(text: str, questions: set[str]) -> str:
    post = _load(text)
    post.metadata["questions"] = [q for q in _questions(post) if q not in questions]
    return _dump(post)


def set_answer(text: str, language: str, answer: str) -> str:
    """The article with its answer in `language` replaced: the body when that is the body's language, else the
    `answers:` entry for it."""
    post = _load(text)
    if str(post.metadata.get("language", "en") or "en").strip().lower() == language:
        post.content = answer
    else:
        answers = dict(post.metadata.get("answers") or {})
        answers[language] = answer
        post.metadata["answers"] = answers
    return _dump(post)


def publish(text: str, by: str, at: str) -> str:
    """The article approved: `status: draft` removed, who approved it and when noted."""
    post = _load(text)
    post.metadata.pop("status", None)
    post.metadata["approved_by"] = by
    post.metadata["approved_at"] = at
    return _dump(post)


def unpublish_marks(text: str) -> str:
    """`status: draft` removed without an approval (a lead discarded what teaching changed)."""
    post = _load(text)
    post.metadata.pop("status", None)
    return _dump(post)


def new_article(title: str, question: str, answer: str, language: str, taught: dict[str, str]) -> str:
    post = frontmatter.Post(answer)
    post.metadata.update({"title": title, "questions": [question], "language": language, "status": "draft",
                          **taught})
    return _dump(post)


def propose_title(question: str, limit: int = 60) -> str:
    """A title from the customer's question: its first sentence, without the question mark, capitalised."""
    first = re.split(r"(?<=[.?!])\s+", question.strip(), maxsplit=1)[0].strip().rstrip("?!. ")
    if len(first) > limit:
        first = first[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return (first[:1].upper() + first[1:]) or "Taught answer"


def slug(title: str, limit: int = 48) -> str:
    """A file name from a title: lower case ASCII words joined by hyphens ("" when nothing is left)."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return words[:limit].rstrip("-")
