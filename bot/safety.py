"""What Tandem posts is safe to post, whoever wrote it: a customer, a model, an agent or a report.

A model that obeys its input (or a customer whose text is shown on a review card) must not be able to make
Tandem ping a whole channel or a role, or carry a link whose visible text hides where it goes, or a link to a
domain the team never links to. `OutboundPolicy` is applied once, in the core, to every outbound text:
messages to customers (replies, auto-sent drafts, notices), review cards, reports and command answers. The
adapters still escape their own syntax on top (Slack's `<...>` specials, Discord mentions), so neither layer
relies on the other.

Removed pieces leave a visible marker ("[ping removed]", "[link removed]") so nobody reads a changed text as
the original; `Cleaned.removed` says what went, for the review card's note to the agent. Cleaning is
idempotent: a cleaned text comes back unchanged.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Iterable
from urllib.parse import urlsplit

from vocab import CardView, CommandResult, EditForm, NotifyAgents, PostReport, SendMessage, UpsertCard

PING_MARK = "[ping removed]"
LINK_MARK = "[link removed]"

_PINGS = (
    (re.compile(r"<!subteam\^[^>]*>", re.I), "a user-group ping"),
    (re.compile(r"<!(?:channel|here|everyone)\b[^>]*>", re.I), "a channel-wide ping"),
    (re.compile(r"<![^>]*>"), "a Slack special mention"),
    (re.compile(r"<@&\d+>"), "a role ping"),
    (re.compile(r"(?<![\w@])[@\uff20](?:everyone|here|channel)\b", re.I), "a channel-wide ping"),
)
# <https://target|visible text>, <https://target>, [visible text](https://target "title"), then bare URLs
_SLACK_LINK = re.compile(r"<((?:https?|ftp|mailto):[^|>\s]*)(?:\|([^>]*))?>", re.I)
_MD_LINK = re.compile(r"\[([^\]]*)\]\(\s*<?([a-z][a-z0-9+.-]*:[^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)", re.I)
_BARE = re.compile(r"\b(?:https?|ftp)://[^\s<>()\[\]\"'`]+", re.I)
_TRAILING = ".,;:!?"
# Every pattern above needs one of these: '<' (Slack specials, role pings, Slack links), '@' or its full-width
# form (channel-wide pings), '[' (Markdown links) or '://' (bare URLs). A text with none is clean as it is, which
# spares most texts (names, labels, answers) the eight passes.
_MAY_NEED_CLEANING = re.compile(r"[<@\uff20\[]|://")


@dataclass(frozen=True)
class Cleaned:
    text: str
    removed: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.removed)


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


def _defang(host: str) -> str:
    """A domain as text that no client turns into a link."""
    return host.replace(".", "[.]") or "an unreadable address"


def _plain(text: str, limit: int = 60) -> str:
    """A link's visible text, quoted for the agent: no syntax, and its dots defanged like a domain's."""
    text = re.sub(r"[<>@\[\]|]", "", text).strip().replace(".", "[.]")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _same(visible: str, url: str) -> bool:
    """A link shows where it goes when its visible text is its target (scheme, www. and a final / aside)."""
    def norm(s: str) -> str:
        s = s.strip().lower()
        s = re.sub(r"^[a-z][a-z0-9+.-]*://", "", s)
        return s.removeprefix("www.").rstrip("/")
    return not visible.strip() or norm(visible) == norm(url)


def link_domains_from(texts: Iterable[str]) -> frozenset[str]:
    """The domains the given texts (the knowledge base's answers) link to: the default allowlist."""
    found = set()
    for text in texts:
        for pattern, group in ((_SLACK_LINK, 1), (_MD_LINK, 2), (_BARE, 0)):
            for m in pattern.finditer(text or ""):
                host = _host(m.group(group).rstrip(_TRAILING))
                if host:
                    found.add(host)
    return frozenset(found)


def policy_for(configured: Iterable[str] | None, articles: Iterable = ()) -> "OutboundPolicy":
    """TANDEM_LINK_DOMAINS when it is set (even empty: no links at all), else the domains the KB links to."""
    if configured is None:
        return OutboundPolicy(link_domains_from(getattr(a, "answer", "") for a in articles))
    return OutboundPolicy(configured)


class OutboundPolicy:
    """Strips pings and unsafe links from outbound text; `link_domains` (and their subdomains) may be linked."""

    def __init__(self, link_domains: Iterable[str] = ()):
        self.domains = frozenset(d.strip().lower().rstrip(".") for d in link_domains if d and d.strip())

    def allowed(self, url: str) -> bool:
        host = _host(url)
        if not host or not url.lower().startswith(("http://", "https://")):
            return False
        return any(host == d or host.endswith("." + d) for d in self.domains)

    def clean(self, text: str | None) -> Cleaned:
        text = text or ""
        if not _MAY_NEED_CLEANING.search(text):
            return Cleaned(text)
        removed: list[str] = []
        for pattern, what in _PINGS:
            text, n = pattern.subn(PING_MARK, text)
            removed.extend([what] * n)

        def link(url: str, visible: str) -> str:
            if not self.allowed(url):
                shown = f" shown as “{_plain(visible)}”" if visible.strip() and not _same(visible, url) else ""
                removed.append(f"a link to {_defang(_host(url))}{shown}")
                return LINK_MARK
            if _same(visible, url):
                return url
            removed.append(f"a masked link: “{_plain(visible)}” now shows its address")
            return f"{visible.strip()} ({url})"

        text = _SLACK_LINK.sub(lambda m: link(m.group(1), m.group(2) or ""), text)
        text = _MD_LINK.sub(lambda m: link(m.group(2), m.group(1)), text)

        def bare(m: re.Match) -> str:
            url = m.group(0)
            tail = len(url) - len(url.rstrip(_TRAILING))
            url, rest = (url[:-tail], url[-tail:]) if tail else (url, "")
            return link(url, "") + rest

        text = _BARE.sub(bare, text)
        return Cleaned(text, tuple(removed))

    def text(self, text: str | None) -> str:
        return self.clean(text).text

    # ---- the core's outbound shapes -----------------------------------------------------------------------
    def card(self, card: CardView) -> CardView:
        """A review card: every text cleaned; the draft says what was removed from it before it can be sent."""
        draft = card.draft_text
        if draft is not None:
            cleaned = self.clean(draft)
            draft = cleaned.text
            if cleaned.removed:
                draft += "\n\n⚠ Removed from this draft: " + "; ".join(dict.fromkeys(cleaned.removed)) + "."
        sources = tuple(s if (title := self.text(s.title)) == s.title else replace(s, title=title)
                        for s in card.sources)
        return replace(card, customer=self.text(card.customer), latest_message=self.text(card.latest_message),
                       draft_text=draft, assignee=self.text(card.assignee) if card.assignee else card.assignee,
                       handoff_reason=self.text(card.handoff_reason) if card.handoff_reason else card.handoff_reason,
                       sources=sources, state_label=self.text(card.state_label), where=self.text(card.where))

    def report(self, report: PostReport) -> PostReport:
        return replace(report, title=self.text(report.title), summary=self.text(report.summary),
                       fields=tuple((self.text(a), self.text(b)) for a, b in report.fields),
                       sections=tuple((self.text(a), self.text(b)) for a, b in report.sections))

    def action(self, action):
        """Any outbox action, cleaned."""
        if isinstance(action, SendMessage):
            return replace(action, text=self.text(action.text))
        if isinstance(action, UpsertCard):
            return replace(action, card=self.card(action.card))
        if isinstance(action, PostReport):
            return self.report(action)
        if isinstance(action, NotifyAgents):  # names a customer, who may be called "@everyone"
            return replace(action, text=self.text(action.text))
        return action

    def answer(self, result):
        """A command's answer to an agent, or the Edit form (prefilled with the cleaned draft)."""
        if isinstance(result, CommandResult):
            return replace(result, text=self.text(result.text))
        if isinstance(result, EditForm):
            return replace(result, text=self.text(result.text))
        return result
