"""The plain data that crosses the core's boundaries: inbound events from adapters, actions back to them.

Adapters translate platform payloads into these types and back; the core never sees a platform SDK object.
Everything here is a frozen dataclass so it can be logged as JSON and compared in tests.
"""
from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class Role(enum.IntEnum):
    """Who may do what. Ordered: a lead can do everything an agent can."""

    CUSTOMER = 0
    AGENT = 1
    LEAD = 2


class State(str, enum.Enum):
    BOT = "bot"  # the bot drafts for each customer message
    WAITING_HUMAN = "waiting_human"  # handed off, with a reason; the bot stays silent
    HUMAN = "human"  # owned by an agent; the bot stays silent until handed back
    RESOLVED = "resolved"


class DraftStatus(str, enum.Enum):
    DRAFTING = "drafting"  # job queued or running
    PENDING = "pending"  # waiting for an agent's decision
    APPROVED = "approved"
    EDITED = "edited"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    AUTO_SENT = "auto_sent"
    FAILED = "failed"  # the drafter failed; the conversation was handed off


class Mode(str, enum.Enum):
    REVIEW = "review"
    AUTO = "auto"
    OFF = "off"


class Handoff(str, enum.Enum):
    ASKED_FOR_HUMAN = "asked_for_human"
    LOW_CONFIDENCE = "low_confidence"
    SENSITIVE_TOPIC = "sensitive_topic"
    FRUSTRATION = "frustration"
    DRAFTER_ERROR = "drafter_error"
    DRAFT_REJECTED = "draft_rejected"
    BOT_OFF = "bot_off"
    ATTACHMENT = "attachment"
    EMPTY_MESSAGE = "empty_message"
    REOPENED = "reopened"


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
    kind: str = "message"  # message | edit | delete

    def to_payload(self) -> dict[str, Any]:
        data = asdict(self)
        data["author"]["role"] = int(self.author.role)
        return data

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> "InboundMessage":
        author = dict(data["author"])
        author["role"] = Role(author.get("role", 0))
        return cls(
            event_id=data["event_id"],
            address=Address(**data["address"]),
            author=Actor(**author),
            text=data.get("text", ""),
            message_id=data.get("message_id", ""),
            attachments=data.get("attachments", 0),
            kind=data.get("kind", "message"),
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


# ---- Outbound actions -------------------------------------------------------------------------------------
# The core writes each one to the outbox before an adapter sees it; the dispatcher marks it sent on success.


@dataclass
class PartsSent:
    """How much of a message split into several platform messages is already out (kept in the outbox row)."""

    done: int = 0
    first_ref: str = ""


@dataclass(frozen=True)
class SendMessage:
    """Post `text` to the customer at `address`. `style`: reply | automated | system | agent.

    `parts`: an adapter that splits a long text sends from part `parts.done` on and counts each part it
    sends, so a retry after a failure mid-way does not post the earlier parts again (see ports.send_parts).
    """

    address: Address
    text: str
    style: str = "reply"
    kind: str = "send_message"
    parts: PartsSent = field(default_factory=PartsSent, compare=False)


@dataclass(frozen=True)
class CardView:
    """Everything a review card shows, already decided by the core; adapters only lay it out."""

    conversation_id: int
    platform: str
    customer: str
    state: str
    state_label: str
    latest_message: str
    draft_id: int | None
    draft_text: str | None
    confidence: float | None
    sources: tuple[Source, ...]
    handoff_reason: str | None
    assignee: str | None
    buttons: tuple[str, ...]  # command names: approve, edit, reject, takeover, handback, resolve
    where: str = ""


@dataclass(frozen=True)
class UpsertCard:
    """Post the conversation's review card, or update it in place when `ref` is known."""

    card: CardView
    ref: str | None = None
    channel: str | None = None
    kind: str = "upsert_card"


@dataclass(frozen=True)
class PostReport:
    """Post a report (the weekly digest) to the platform's agent channel, with an optional PNG chart."""

    title: str
    summary: str  # markdown-ish plain text, a paragraph
    fields: tuple[tuple[str, str], ...] = ()  # headline figures: (label, value)
    sections: tuple[tuple[str, str], ...] = ()  # (heading, body text with one item per line)
    image_path: str | None = None
    kind: str = "post_report"


@dataclass(frozen=True)
class Delivery:
    """What an adapter returns after a successful send: the platform's id for what it posted."""

    ref: str = ""
    channel: str = ""


class DeliveryError(Exception):
    """An adapter could not deliver an action. `retry=False` means retrying cannot help (logged loudly)."""

    def __init__(self, message: str, *, retry: bool = True, retry_after: float | None = None):
        super().__init__(message)
        self.retry = retry
        self.retry_after = retry_after
