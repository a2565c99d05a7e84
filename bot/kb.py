"""The knowledge base: Markdown articles with front matter, the one source of truth for answers.

Each `*.md` file is an article: front matter `title`, `questions` (example phrasings), optional `tags`
and `handoff: true` (sensitive: always a person), and the answer as its body. The file name is its id.
An answer that is still the import placeholder (see bot/kb_import.py) is "not written": drafts resting on
it always wait for a person's review.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import frontmatter


PLACEHOLDER = "(answer for '{label}' not written yet)"  # what `tandem kb import-csv` writes as an answer
_PLACEHOLDER = re.compile(r"^\(answer for '.*' not written yet\)$", re.DOTALL)


class KBError(ValueError):
    """The knowledge base cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    answer: str
    questions: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    handoff: bool = False
    path: str = ""
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def written(self) -> bool:
        """False for an imported article whose answer is still the placeholder: never sent on its own."""
        return not _PLACEHOLDER.match(self.answer.strip())


def unwritten(articles) -> list[str]:
    """Ids of the articles whose answer is not written yet."""
    return [a.id for a in articles if not a.written]


def bundled_kb_path() -> Path:
    return Path(str(resources.files("bot") / "sample_kb"))


def _as_list(value, name: str, path: Path) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return tuple(str(v) for v in value)
    raise KBError(f"{path}: '{name}' must be a list of strings")


def load_article(path: Path) -> Article:
    try:
        post = frontmatter.load(path)
    except Exception as exc:  # yaml errors come in many types
        raise KBError(f"{path}: cannot read front matter ({exc})") from exc
    meta = dict(post.metadata)
    title = str(meta.pop("title", "") or "").strip()
    if not title:
        raise KBError(f"{path}: front matter needs a 'title'")
    answer = post.content.strip()
    if not answer:
        raise KBError(f"{path}: the article has no answer (empty body)")
    return Article(
        id=path.stem,
        title=title,
        answer=answer,
        questions=_as_list(meta.pop("questions", None), "questions", path),
        tags=_as_list(meta.pop("tags", None), "tags", path),
        handoff=bool(meta.pop("handoff", False)),
        path=str(path),
        extra=meta,
    )


def load_kb(path: str | Path | None = None) -> list[Article]:
    """Load every article under `path` (default: the bundled sample KB), sorted by id."""
    root = Path(path) if path else bundled_kb_path()
    if not root.is_dir():
        raise KBError(f"{root}: knowledge base folder not found")
    files = sorted(root.glob("*.md"))
    if not files:
        raise KBError(f"{root}: no *.md articles in the knowledge base folder")
    return [load_article(f) for f in files if f.name.lower() != "readme.md"]
