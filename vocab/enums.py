"""The closed vocabularies of Tandem: roles, states, draft decisions, handoff reasons, audit actions, outbox kinds.

Every layer names these ideas with the same members, so the store, the digest, the seed and the adapters
cannot drift apart (an audit row written as `edited` in one place and counted as `edit` in another).
Each is a `str` enum where it is stored as text, so a member compares equal to its stored value.
"""
from __future__ import annotations

import enum


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
    REOPENED = "reopened"


class AuthorKind(str, enum.Enum):
    """Who wrote a message. A note is agent-only and never leaves the agents' side."""

    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"
    NOTE = "note"


class Style(str, enum.Enum):
    """How an adapter presents a message to the customer."""

    REPLY = "reply"  # a draft a person approved or edited
    AUTOMATED = "automated"  # sent by the bot on its own, marked as such
    SYSTEM = "system"  # a notice: handoff, takeover, resolved, rating thanks
    AGENT = "agent"  # a person wrote it


class OutboxKind(str, enum.Enum):
    SEND_MESSAGE = "send_message"
    UPSERT_CARD = "upsert_card"
    POST_REPORT = "post_report"
    NOTIFY_AGENTS = "notify_agents"
    REACT = "react"


class AuditAction(str, enum.Enum):
    """The `events.action` of each audit row."""

    # customers
    OPEN = "open"
    RATING = "rating"
    RATING_ATTEMPT = "rating_attempt"  # a try at rating that is not 1-5 (`7`, `10/10`): the customer is told how
    MESSAGE_EDITED = "message_edited"
    MESSAGE_DELETED = "message_deleted"
    # the bot
    HANDOFF = "handoff"
    HANDOFF_SIGNAL = "handoff_signal"  # a handoff reason while a person is already on it
    REOPEN = "reopen"
    DRAFT_READY = "draft_ready"
    DRAFT_SUPERSEDED = "draft_superseded"
    AUTO_SEND = "auto_send"
    EMPTY_MESSAGE = "empty_message"
    DELIVERY_FAILED = "delivery_failed"
    PURGE = "purge"  # the retention purge removed old texts (details: the counts)
    # agents
    APPROVE = "approve"
    EDIT = "edit"
    REJECT = "reject"
    TAKEOVER = "takeover"
    HANDBACK = "handback"
    REPLY = "reply"
    NOTE = "note"
    ASSIGN = "assign"
    RESOLVE = "resolve"
    MODE = "mode"
    TEACH = "teach"  # an agent taught the knowledge base from a conversation (details: article, lessons)
    KB_WRITE = "kb_write"  # Tandem wrote an article file into TANDEM_KB (details: article, path, why)
    KB_APPROVE = "kb_approve"  # a lead approved what was taught to an article
    KB_DISCARD = "kb_discard"  # a lead discarded it
    CONFIRM = "confirm"  # an approval unchanged taught its question to the draft's article (details: article, learned)
    DUTY = "duty"  # an agent went on or off duty (details: agent, on, by)
    ROUTE = "route"  # a conversation was assigned by TANDEM_ASSIGN (details: assignee, strategy, why)
    TICKET = "ticket"  # an agent opened a conversation from a message with the ticket reaction (details: message)
    # response-time targets (details: kind first|next, due_at)
    SLA_WARNING = "sla_warning"
    SLA_BREACH = "sla_breach"
    SLA_ALERT_DROPPED = "sla_alert_dropped"  # an alert no longer true when it would be sent
    # commands that did not run
    COMMAND_UNKNOWN = "command_unknown"
    COMMAND_REFUSED = "command_refused"
    COMMAND_ERROR = "command_error"


TANDEM = "tandem"  # the actor name of everything the bot does by itself


class Tone(str, enum.Enum):
    """A button's weight on the review card; each adapter maps it to its platform's styles."""

    GOOD = "good"  # the expected next step (approve, resolve)
    PRIMARY = "primary"
    DANGER = "danger"
    PLAIN = "plain"
