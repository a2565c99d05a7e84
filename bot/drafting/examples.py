"""Examples of the team's voice for the LLM drafter: the past answers people sent to the most similar questions.

With a model configured, the prompt carries up to three (question, answer) pairs an agent approved, edited or
wrote, found in this workspace's log only (storage/voice.py), picked by a cheap rapidfuzz similarity over a
bounded number of recent pairs. They reach the model as JSON data marked as style examples, never as
instructions, and each one's conversation is listed among the draft's sources.
"""
from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bot.ports import Store

MAX_EXAMPLES = 3
MIN_SIMILARITY = 55  # token_set_ratio below this is a different question, not a paraphrase
SCAN = 2000  # pairs of the workspace looked at, newest first
ANSWER_CHARS = 800


@dataclass(frozen=True)
class Example:
    conversation_id: int
    question: str
    answer: str
    score: float

    @property
    def source_id(self) -> str:
        return f"conversation:{self.conversation_id}"


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def team_examples(store: Store, platform: str, workspace: str, question: str, *,
                  exclude: int | None = None) -> tuple[Example, ...]:
    """Up to three past answers of this workspace to the questions most similar to `question`, best first."""
    pairs = [p for p in store.team_answers(platform, workspace, limit=SCAN) if p["conversation_id"] != exclude]
    if not pairs or not question.strip():
        return ()
    hits = process.extract(_norm(question), [_norm(p["question"]) for p in pairs], scorer=fuzz.token_set_ratio,
                           limit=MAX_EXAMPLES * 4, score_cutoff=MIN_SIMILARITY)
    chosen: list[Example] = []
    for _, score, index in hits:
        pair = pairs[index]
        if any(e.conversation_id == pair["conversation_id"] for e in chosen):
            continue  # one example per conversation
        chosen.append(Example(pair["conversation_id"], pair["question"], pair["answer"][:ANSWER_CHARS], score))
        if len(chosen) == MAX_EXAMPLES:
            break
    return tuple(chosen)
