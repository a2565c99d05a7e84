"""The stored conversation and draft as the core reads them: what every storage engine returns.

Plain dataclasses, so the core reads fields by name and tests can compare them. Mapping rows to these
records is the storage engine's job (see storage/records.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

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

    @property
    def source_list(self) -> tuple[Source, ...]:
        return tuple(Source(**s) for s in json.loads(self.sources or "[]"))
