"""Knowledge-base gaps: group the questions the bot could not answer well, so leads know what to write.

Questions are normalised (lower case, punctuation and filler words dropped, tokens sorted), counted, and
then merged greedily, most frequent first, into the closest existing group when rapidfuzz's token-sort
ratio reaches the cut-off. Each group is shown by its most frequent wording.

A gap an agent already answered is half written: each group keeps the conversations its questions came from,
and `mark_answers` points at the latest one whose last answer an agent wrote or substantially edited, so the
digest can say "agent answer in conversation #12: `teach 12`" (or that it was taught already).
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from bot.teach import same_substance

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_FILLER = frozenset(
    "a an the i me my we our you your is are was were be am do does did can could would should will to of "
    "for in on at it this that and or but so with how what why when where which please pls hi hello hey "
    "there thanks thank any some just".split()
)
SIMILARITY = 75  # token-sort ratio (0-100) above which two questions are the same gap
MAX_KEYS = 1500  # distinct wordings clustered; the long tail of one-off questions is left out
MAX_CONVERSATIONS = 200  # per group, the latest ones kept and looked at for an agent's answer


@dataclass
class Gap:
    question: str  # the most frequent wording in the group
    count: int
    examples: list[str] = field(default_factory=list)  # up to three other wordings
    conversations: list[int] = field(default_factory=list)  # where its questions were asked, latest first
    agent_answer: int | None = None  # the latest conversation whose last answer an agent wrote: `teach` it
    taught: int | None = None  # ...or, when every such answer was taught already, the latest of those


def normalise(text: str) -> str:
    tokens = [t for t in _WORD.findall(text.lower()) if t not in _FILLER]
    return " ".join(sorted(set(tokens)))


def group_questions(texts: list[str], top: int = 5, conversations: list[int] | None = None) -> list[Gap]:
    """The `top` largest groups of similar questions, largest first. `conversations`, when given, names the
    conversation of each text (texts newest first), kept on each group latest first."""
    wordings: dict[str, Counter] = {}
    keys: Counter = Counter()
    where: dict[str, list[int]] = defaultdict(list)  # wording (spaces folded) -> its conversations
    for raw, conv in zip(texts, conversations or ()):
        where[" ".join(raw.split())].append(conv)
    for raw, n in Counter(texts).items():  # the same question asked twice is normalised once
        text = " ".join(raw.split())
        key = normalise(text)
        if not key:
            continue
        keys[key] += n
        wordings.setdefault(key, Counter())[text] += n
    reps: list[str] = []
    members: list[list[str]] = []
    for key, _ in keys.most_common(MAX_KEYS):
        hit = process.extractOne(key, reps, scorer=fuzz.token_sort_ratio, score_cutoff=SIMILARITY) if reps else None
        if hit is None:
            reps.append(key)
            members.append([key])
        else:
            members[hit[2]].append(key)
    newest = {c: i for i, c in reversed(list(enumerate(conversations or ())))}  # a conversation's first position
    gaps = []
    for group in members:
        texts_in = Counter()
        for key in group:
            texts_in.update(wordings[key])
        ranked = [t for t, _ in texts_in.most_common()]
        convs = sorted({c for text in texts_in for c in where.get(text, ())}, key=newest.__getitem__)
        gaps.append(Gap(ranked[0], sum(keys[k] for k in group), ranked[1:4], convs[:MAX_CONVERSATIONS]))
    gaps.sort(key=lambda g: (-g.count, g.question))
    return gaps[:top]


def mark_answers(gaps: list[Gap], last_answers: list[tuple]) -> None:
    """Set each gap's `agent_answer` (or `taught`) from storage's `last_answers` rows: (conversation, author kind,
    draft status, drafted text, sent text, taught?). An answer counts when an agent wrote it, or edited a draft
    so much that it says something else (the card's Save to knowledge base rule, bot/teach.py)."""
    answered: dict[int, bool] = {}  # conversation -> taught already?
    for conv, author, status, drafted, sent, taught in last_answers:
        by_agent = author == "agent" or (status == "edited" and not same_substance(drafted or "", sent or ""))
        if by_agent:
            answered[conv] = bool(taught)
    for gap in gaps:
        mine = [c for c in gap.conversations if c in answered]
        gap.agent_answer = next((c for c in mine if not answered[c]), None)
        gap.taught = None if gap.agent_answer is not None else next(iter(mine), None)
