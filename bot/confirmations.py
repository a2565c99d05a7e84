"""Which confirmed questions an article is drafted from: the approvals that became examples, bounded.

An agent approving a knowledge-base draft unchanged confirms that its article answers the customer's question
(bot/approvals.py keeps each one in SQLite). The drafter's examples of an article are then its file's title and
`questions` plus `Article.confirmed`, which this module works out from the confirmed questions, newest first:

* a question the article already has, or nearly has, is skipped, by the rule teaching uses
  (bot/kb_edit.py `repeats`: the same words, or a rapidfuzz ratio of 90 or more), and so is one that repeats a
  newer confirmed question;
* at most `PER_ARTICLE` are kept, the newest: a popular article is approved hundreds of times a month, the index
  (and an update's cost) must not grow with it, and the newest phrasings are the customers' current ones.

`added` is the same rule for one new question against an article as it is indexed, so an approval that adds
nothing (a repeat) costs no index update. The two agree: a question that repeats none of the kept ones is
repeated by none of them (the ratio is symmetric), so putting it first keeps every other choice as it was.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from bot.kb import Article
from bot.kb_edit import normalised, repeats

PER_ARTICLE = 50  # confirmed questions kept as an article's examples, newest first
LOADED = 4 * PER_ARTICLE  # confirmed questions read per article (start-up) and held in memory: room for repeats


def _known(article: Article) -> list[str]:
    return [normalised(q) for q in (article.title, *article.questions)]


def examples(article: Article, confirmed: Sequence[str], cap: int = PER_ARTICLE) -> tuple[str, ...]:
    """The confirmed questions (newest first) that `article` is drafted from besides its file's."""
    known, kept, kept_norm = _known(article), [], []
    for question in confirmed:
        if len(kept) >= cap:
            break
        norm = normalised(question)
        if not norm or repeats(norm, known) is not None or repeats(norm, kept_norm) is not None:
            continue
        kept.append(question)
        kept_norm.append(norm)
    return tuple(kept)


def attach(articles: list[Article], confirmed: Mapping[str, Sequence[str]]) -> list[Article]:
    """The articles with their confirmed examples (a confirmation for an article not among them is ignored)."""
    return [dataclasses.replace(a, confirmed=examples(a, confirmed.get(a.id, ()))) for a in articles]


def added(article: Article, question: str, cap: int = PER_ARTICLE) -> Article | None:
    """`article` with `question` confirmed as its newest example, or None when it repeats one it has."""
    norm = normalised(question)
    if not norm or repeats(norm, _known(article) + [normalised(q) for q in article.confirmed]) is not None:
        return None
    return dataclasses.replace(article, confirmed=(question, *article.confirmed)[:cap])
