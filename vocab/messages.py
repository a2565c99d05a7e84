"""The plain data that crosses the core's boundaries inbound: addresses, people, events, and answers to them.

Adapters translate platform payloads into these types; the core never sees a platform SDK object.
Frozen dataclasses, so they can be logged as JSON and compared in tests.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vocab.enums import Role


@dataclass(frozen=True)
class Address:
    """Where a conversation lives. `thread` is '' for a DM or the console, a thread key otherwise."""

    platform: str
    channel: str
    thread: str = ""
    workspace: str = ""
    is_dm: bool = False


@dataclass(frozen=True)
class Actor:
    """A person as the adapter saw them; `role` comes from the adapter's identity mapping (config lists, roles)."""

    platform: str
    user_id: str
    name: str = ""
    role: Role = Role.CUSTOMER
    workspace: str = ""  # the Slack workspace or Discord guild this person is an agent of ("": not known)

    @property
    def label(self) -> str:
        return self.name or self.user_id


@dataclass(frozen=True)
class InboundMessage:
    """A customer or agent wrote something where customers are served."""

    event_id: str
    address: Address
    author: Actor
    text: str
    message_id: str = ""
    attachments: int = 0
    kind: str = "message"  # message | edit | delete | ticket
    by: Actor | None = None  # ticket: the person who reacted with the ticket emoji (the author is the customer)

    def to_payload(self) -> dict[str, Any]:
        """The event as plain JSON-ready data, built field by field: `dataclasses.asdict` deep-copies every
        value and was a tenth of the core's cost per message; every field here is a plain value already."""
        data = dict(self.__dict__)
        data["address"] = dict(self.address.__dict__)
        data["author"] = {**self.author.__dict__, "role": int(self.author.role)}
        if self.by is not None:
            data["by"] = {**self.by.__dict__, "role": int(self.by.role)}
        return data

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> "InboundMessage":
        author = dict(data["author"])
        author["role"] = Role(author.get("role", 0))
        by = dict(data["by"]) if isinstance(data.get("by"), dict) else None
        if by is not None:
            by["role"] = Role(by.get("role", 0))
        return cls(
            event_id=data["event_id"],
            address=Address(**data["address"]),
            author=Actor(**author),
            text=data.get("text", ""),
            message_id=data.get("message_id", ""),
            attachments=data.get("attachments", 0),
            kind=data.get("kind", "message"),
            by=Actor(**by) if by is not None else None,
        )


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    score: float = 0.0


@dataclass(frozen=True)
class Receipt:
    """What `Core.receive` tells the adapter: the event is safely recorded (or was already)."""

    inbox_id: int | None
    duplicate: bool


@dataclass
class CommandResult:
    """The answer an agent sees (ephemerally) after a command. `ok` is False for refusals and errors."""

    text: str
    ok: bool = True
    data: dict[str, Any] = field(default_factory=dict)
