"""The contract every drafter fulfils: a question in, a proposed reply with sources and confidence out.

The core only knows this interface, so the offline knowledge-base drafter and the LLM drafter are
interchangeable, and a drafter that fails raises `DrafterError` (the core turns it into a handoff).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from vocab import Source


@dataclass(frozen=True)
class DraftRequest:
    conversation_id: int
    question: str
    history: tuple[tuple[str, str], ...] = ()  # (author_kind, text), oldest first, excluding `question`
    language: str = "en"
    examples: tuple = ()  # bot.drafting.examples.Example: past team answers (only for drafters that use them)
    previous_language: str = ""  # the language of the conversation's last draft: short messages keep it


@dataclass(frozen=True)
class DraftResult:
    text: str
    confidence: float  # 0..1, calibrated: the chance this answer is right
    sources: tuple[Source, ...] = ()
    needs_human: bool = False  # the drafter itself says a person must handle this
    reason: str | None = None  # why a human is needed (e.g. "sensitive_topic")
    drafter: str = ""
    model: str | None = None
    details: dict = field(default_factory=dict)
    # What the draft rests on, judged by the retrieval and not by the drafter's own word (bot.rules.judge):
    grounding_confidence: float = 0.0  # the retrieval's calibrated confidence in its top article
    grounding: str = ""  # the text of the articles the draft rests on (what it may promise)
    unwritten: tuple[str, ...] = ()  # ids of those articles whose answer is not written yet (import placeholder)
    unreviewed: tuple[str, ...] = ()  # ids of those articles taught and not yet approved by a lead (status: draft)
    language: str = ""  # the language the draft is written in (bot.language)


class DrafterError(Exception):
    """The drafter could not produce a usable draft (timeout, HTTP error, malformed output)."""


class Drafter(Protocol):
    name: str

    async def draft(self, request: DraftRequest) -> DraftResult: ...

    async def aclose(self) -> None:
        """Release connections (the LLM drafter's HTTP pool); called once when Tandem stops."""
