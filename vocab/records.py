"""The stored conversation and draft as the core reads them: what every storage engine returns.

Plain dataclasses, so the core reads fields by name and tests can compare them. Mapping rows to these
records is the storage engine's job (see storage/records.py).
"""
from __future__ import annotations

import enum
import json
from dataclasses import dataclass, fields
from typing import Any

from vocab.enums import Handoff, State
from vocab.messages import Address, Source

@dataclass
class Conversation:
    id: int
    platform: str
    workspace: str
    channel: str
    thread: str
    is_dm: int
    customer_id: str
    customer_name: str
    language: str
    state: str
    handoff_reason: str | None
    handoff_at: str | None
    assignee: str | None
    human_involved: int
    awaiting_rating: int
    created_at: str
    updated_at: str
    last_customer_at: str | None
    first_response_at: str | None
    resolved_at: str | None
    reopened_count: int
    card_channel: str | None
    card_ref: str | None
    assignee_id: str | None = None  # the assignee's platform user id, to mention them
    previous_assignee: str | None = None  # who had it when it was resolved or handed back (a reopen goes back)

    @property
    def address(self) -> Address:
        return Address(self.platform, self.channel, self.thread, self.workspace, bool(self.is_dm))

    @property
    def customer(self) -> str:
        return self.customer_name or self.customer_id


@dataclass
class Draft:
    id: int
    conversation_id: int
    message_id: int
    status: str
    text: str | None
    sources: str
    confidence: float | None
    drafter: str | None
    model: str | None
    latency_ms: float | None
    handoff_reason: str | None
    created_at: str
    drafted_at: str | None
    decided_at: str | None
    decided_by: str | None
    final_text: str | None
    edit_distance: int | None
    reject_reason: str | None
    language: str | None = None  # the language the draft is written in

    @property
    def source_list(self) -> tuple[Source, ...]:
        return tuple(Source(**s) for s in json.loads(self.sources or "[]"))


@dataclass(frozen=True)
class DraftJob:
    """A drafting job as a worker and the processor read it, in one query: the job's status and customer message,
    its conversation, and (when asked for) the language of the conversation's latest draft that has one."""
    status: str
    message_id: int
    conversation: Conversation
    last_language: str | None = None


class _Keep:
    """Marks a field of `ConversationChange` that the change leaves as it is."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


@dataclass(frozen=True)
class ConversationChange:
    """The fields one transition writes; every field left at KEEP stays as it is. Typed, so a transition
    cannot write a column that does not exist or a state that is not a `State`."""

    state: State = KEEP
    handoff_reason: Handoff | None = KEEP
    handoff_at: str | None = KEEP
    assignee: str | None = KEEP
    assignee_id: str | None = KEEP
    previous_assignee: str | None = KEEP
    human_involved: bool = KEEP
    awaiting_rating: bool = KEEP
    language: str = KEEP
    last_customer_at: str | None = KEEP
    first_response_at: str | None = KEEP
    resolved_at: str | None = KEEP
    reopened: bool = KEEP  # True: add one to reopened_count

    def columns(self) -> dict[str, Any]:
        """The column values to write (booleans as 0/1, enums as their stored text)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is KEEP or f.name == "reopened":
                continue
            if isinstance(value, enum.Enum):
                value = value.value
            elif isinstance(value, bool):
                value = int(value)
            out[f.name] = value
        return out
