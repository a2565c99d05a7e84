"""Knowledge-base gaps: group the questions the bot could not answer well, so leads know what to write.

Questions are normalised (lower case, punctuation and filler words dropped, tokens sorted), counted, and
then merged greedily, most frequent first, into the closest existing group when rapidfuzz's token-sort
ratio reaches the cut-off. Each group is shown by its most frequent wording.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_FILLER = frozenset(
    "a an the i me my we our you your is are was were be am do does did can could would should will to of "
    "for in on at it this that and or but so with how what why when where which please pls hi hello hey "
    "there thanks thank any some just".split()
)
SIMILARITY = 75  # token-sort ratio (0-100) above which two questions are the same gap
MAX_KEYS = 1500  # distinct wordings clustered; the long tail of one-off questions is left out


@dataclass
class Gap:
    question: str  # the most frequent wording in the group
    count: int
    examples: list[str] = field(default_factory=list)  # up to three other wordings


def normalise(text: str) -> str:
    tokens = [t for t in _WORD.findall(text.lower()) if t not in _FILLER]
    return " ".join(sorted(set(tokens)))


def group_questions(texts: list[str], top: int = 5) -> list[Gap]:
    """The `top` largest groups of similar questions, largest first."""
    wordings: dict[str, Counter] = {}
    keys: Counter = Counter()
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
    gaps = []
    for group in members:
        texts_in = Counter()
        for key in group:
            texts_in.update(wordings[key])
        ranked = [t for t, _ in texts_in.most_common()]
        gaps.append(Gap(ranked[0], sum(keys[k] for k in group), ranked[1:4]))
    gaps.sort(key=lambda g: (-g.count, g.question))
    return gaps[:top]
