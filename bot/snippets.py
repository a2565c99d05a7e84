"""Saved replies: the answers agents send again and again, written once as Markdown and sent by name.

A folder of `*.md` files (`TANDEM_SNIPPETS`; default: the bundled sample set in `bot/sample_snippets/`). The file
name is the snippet's name; front matter `title`, optional `language` (the body's, default `en`) and
`translations` (other language codes to the same reply in that language); the body is the reply. A body may
say `{customer}`, `{agent}` and `{conversation}`; `{{` and `}}` are literal braces; lines wrapped in the file
join into one (see `unwrap`). Anything else in braces is
a load error naming the file, so a typo never reaches a customer. `snippet <name> <conversation>` sends the
version in the conversation's language (bot/desk.py).
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import frontmatter
from rapidfuzz import fuzz, process

PLACEHOLDERS = ("customer", "agent", "conversation")


class SnippetError(ValueError):
    """The saved replies cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Snippet:
    name: str
    title: str
    body: str
    language: str = "en"
    translations: tuple[tuple[str, str], ...] = ()
    path: str = ""

    def text_in(self, language: str | None) -> str:
        """The reply in `language` when the snippet has it, else in the body's language (unfilled)."""
        return next((text for lang, text in self.translations if lang == language), self.body)

    def fill(self, language: str | None, *, customer: str, agent: str, conversation: int) -> str:
        return self.text_in(language).format(customer=customer, agent=agent, conversation=conversation)

    @property
    def first_line(self) -> str:
        return next((line.strip() for line in self.body.splitlines() if line.strip()), "")

    @property
    def searchable(self) -> str:
        return " ".join([self.name, self.title, self.body, *(text for _, text in self.translations)]).lower()


def _check(text: str, path: Path, where: str) -> str:
    """`text` as given, once every `{...}` in it is known to be a placeholder we fill."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise SnippetError(f"{path}: {where}: {exc}; write {{{{ and }}}} for literal braces") from None
    for name in fields:
        if name not in PLACEHOLDERS:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise SnippetError(f"{path}: {where}: unknown placeholder {{{name}}}; use {known}, "
                               "or {{ and }} for literal braces")
    try:
        text.format(customer="", agent="", conversation=0)
    except (ValueError, IndexError, KeyError, AttributeError) as exc:  # a format spec or conversion we do not fill
        raise SnippetError(f"{path}: {where}: placeholders take no format ({exc})") from None
    return text


_BLOCK_START = re.compile(r"^\s*(?:[-*+>#|]|\d+[.)])\s")


def unwrap(text: str) -> str:
    """Markdown's paragraphs as chat messages: lines wrapped in the file join with a space (chat apps show every
    newline), while blank lines, list items, quotes and headings keep their breaks."""
    lines = text.strip().splitlines()
    out: list[str] = []
    for line in lines:
        if out and out[-1].strip() and line.strip() and not _BLOCK_START.match(line):
            out[-1] = out[-1].rstrip() + " " + line.strip()
        else:
            out.append(line.rstrip())
    return "\n".join(out)


def load_snippet(path: Path) -> Snippet:
    try:
        post = frontmatter.load(path)
    except Exception as exc:  # yaml errors come in many types
        raise SnippetError(f"{path}: cannot read front matter ({exc})") from exc
    title = str(post.metadata.get("title", "") or "").strip()
    if not title:
        raise SnippetError(f"{path}: front matter needs a 'title'")
    body = unwrap(post.content)
    if not body:
        raise SnippetError(f"{path}: the saved reply is empty")
    raw = post.metadata.get("translations") or {}
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise SnippetError(f"{path}: 'translations' must map language codes to texts, e.g. translations: {{id: ...}}")
    translations = tuple((k.strip().lower(), _check(unwrap(v), path, f"translation {k!r}"))
                         for k, v in raw.items() if v.strip())
    return Snippet(name=path.stem.lower(), title=title, body=_check(body, path, "body"),
                   language=str(post.metadata.get("language", "en") or "en").strip().lower(),
                   translations=translations, path=str(path))


def bundled_snippets_path() -> Path:
    return Path(str(resources.files("bot") / "sample_snippets"))


class SnippetBook:
    """The loaded saved replies, by name, with the search and the suggestions the commands use."""

    def __init__(self, snippets: list[Snippet] | tuple[Snippet, ...] = ()):
        self.by_name = {s.name: s for s in sorted(snippets, key=lambda s: s.name)}
        self.choices = tuple((s.name, s.title) for s in self.by_name.values())  # the card's picker, (name, title)

    def __len__(self) -> int:
        return len(self.by_name)

    def __iter__(self):
        return iter(self.by_name.values())

    def get(self, name: str) -> Snippet | None:
        return self.by_name.get((name or "").strip().lower())

    def closest(self, name: str, limit: int = 3) -> list[str]:
        """The names nearest to a mistyped one, best first."""
        found = process.extract((name or "").lower(), list(self.by_name), scorer=fuzz.WRatio, limit=limit,
                                score_cutoff=50)
        return [match for match, _, _ in found]

    def search(self, query: str | None, limit: int = 25) -> list[Snippet]:
        """Every snippet (no query), or those whose name, title or text match the words, best first."""
        if not query or not query.strip():
            return list(self.by_name.values())[:limit]
        q = query.strip().lower()
        scored = [(max(fuzz.partial_ratio(q, s.searchable), fuzz.WRatio(q, f"{s.name} {s.title}".lower())), s)
                  for s in self.by_name.values()]
        return [s for score, s in sorted(scored, key=lambda pair: -pair[0]) if score >= 70][:limit]


def load_snippets(path: str | Path | None = None) -> SnippetBook:
    """Load every saved reply under `path` (default: the bundled sample set)."""
    root = Path(path) if path else bundled_snippets_path()
    if not root.is_dir():
        raise SnippetError(f"{root}: saved replies folder not found")
    files = [f for f in sorted(root.glob("*.md")) if f.name.lower() != "readme.md"]
    if not files:
        raise SnippetError(f"{root}: no *.md saved replies in the folder")
    return SnippetBook([load_snippet(f) for f in files])
