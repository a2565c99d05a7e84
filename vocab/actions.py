"""The outbound actions the core asks an adapter to perform, and what the adapter answers.

The core writes each action to the outbox before an adapter sees it; the dispatcher marks it sent on success.
`key` names the outbox row (at most 22 characters) so a platform can recognise a repeat of the same action.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from vocab.enums import OutboxKind, Style
from vocab.messages import Address, Source


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
    style: Style = Style.REPLY
    kind: OutboxKind = OutboxKind.SEND_MESSAGE
    parts: PartsSent = field(default_factory=PartsSent, compare=False)
    key: str = field(default="", compare=False)  # the outbox row's delivery key (see Adapter.deliver)


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
    snippets: tuple[tuple[str, str], ...] = ()  # the saved-reply picker: (name, title); empty: no picker
    # the response-time target for people ("reply due in 4m", "reply overdue by 3m"); not compared, so the
    # passing of time alone does not make a delivered card out of date (the watch refreshes it at each alert)
    due: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class UpsertCard:
    """Post the conversation's review card, or update it in place when `ref` is known."""

    card: CardView
    ref: str | None = None
    channel: str | None = None
    kind: OutboxKind = OutboxKind.UPSERT_CARD
    key: str = field(default="", compare=False)


@dataclass(frozen=True)
class PostReport:
    """Post a report (the weekly digest) to the platform's agent channel, with an optional PNG chart."""

    title: str
    summary: str  # markdown-ish plain text, a paragraph
    fields: tuple[tuple[str, str], ...] = ()  # headline figures: (label, value)
    sections: tuple[tuple[str, str], ...] = ()  # (heading, body text with one item per line)
    image_path: str | None = None
    kind: OutboxKind = OutboxKind.POST_REPORT
    key: str = field(default="", compare=False)


@dataclass(frozen=True)
class NotifyAgents:
    """Tell agents something about a conversation in its card's thread (the agent channel when the card has no
    thread yet): an assignment, a response-time warning. `mentions` are (platform user id, name) of the people
    to notify; the adapter renders them as its platform's mentions, and notifies those people only."""

    conversation_id: int
    text: str
    mentions: tuple[tuple[str, str], ...] = ()
    channel: str = ""  # the card's channel ("" : the agent channel)
    thread: str = ""  # the card's message: its thread
    kind: OutboxKind = OutboxKind.NOTIFY_AGENTS
    key: str = field(default="", compare=False)


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


@dataclass(frozen=True)
class React:
    """Put a status reaction on (or take it off) a customer's message. `emoji` is the core's form, an alias
    without colons (`eyes`, see bot/emojis.py); each adapter renders it (Slack: the name, Discord: unicode)."""

    channel: str
    message_ref: str
    emoji: str
    remove: bool = False
    kind: OutboxKind = OutboxKind.REACT
    key: str = field(default="", compare=False)


@dataclass(frozen=True)
class EditForm:
    """The core's answer to an Edit button: open a form prefilled with the draft (adapters only render it)."""

    draft_id: int
    text: str
    snippets: tuple[tuple[str, str], ...] = ()  # saved replies the form may offer: (name, title)
    snippet: str | None = None  # the saved reply the text was filled from, if any
