"""The knowledge base: Markdown articles with front matter, the one source of truth for answers.

Each `*.md` file is an article: front matter `title`, `questions` (example phrasings), optional `tags`
and `handoff: true` (sensitive: always a person), and the answer as its body. The file name is its id.
`language` (default `en`) is the body's language; `answers` maps other language codes to the same answer
written in that language. `status: draft` marks an article taught by an agent and not yet approved by a
lead: drafts resting on it always wait for a person's review. `confirmed` is not read from the file: it holds the
questions agents confirmed by approving the article's draft unchanged, kept in SQLite (bot/confirmations.py).
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
    language: str = "en"  # the body's language
    translations: tuple[tuple[str, str], ...] = ()  # (language, answer) for the other languages
    status: str = "published"  # or "draft": taught and not yet approved by a lead
    # questions agents confirmed by approving this article's draft unchanged (SQLite, not the file: bot/approvals.py)
    confirmed: tuple[str, ...] = ()

    @property
    def is_draft(self) -> bool:
        return self.status == "draft"

    @property
    def languages(self) -> tuple[str, ...]:
        return (self.language, *(lang for lang, _ in self.translations))

    def answer_in(self, language: str | None) -> tuple[str, str]:
        """The answer in `language` when the article has it, else in the body's language: (language, text)."""
        for lang, text in self.translations:
            if lang == language:
                return lang, text
        return self.language, self.answer

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


def _translations(value, path: Path) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise KBError(f"{path}: 'answers' must map language codes to answer texts, e.g. answers: {{id: ...}}")
    return tuple((k.strip().lower(), v.strip()) for k, v in value.items() if v.strip())


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
        language=str(meta.pop("language", "en") or "en").strip().lower(),
        translations=_translations(meta.pop("answers", None), path),
        status="draft" if str(meta.pop("status", "") or "").strip().lower() == "draft" else "published",
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
