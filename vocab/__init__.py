"""The shared vocabulary of Tandem: every layer (adapters, the core, storage) may import this, and it imports
nothing of ours. Enums for every closed set of names, the inbound and outbound data, the stored records."""
from vocab.actions import (
    CardView,
    Delivery,
    DeliveryError,
    EditForm,
    NotifyAgents,
    React,
    PartsSent,
    PostReport,
    SendMessage,
    UpsertCard,
)
from vocab.enums import (
    TANDEM,
    AuditAction,
    AuthorKind,
    DraftStatus,
    Handoff,
    Mode,
    OutboxKind,
    Role,
    State,
    Style,
    Tone,
)
from vocab.health import PlatformHealth
from vocab.messages import Actor, Address, CommandResult, InboundMessage, Receipt, Source
from vocab.records import KEEP, Conversation, ConversationChange, Draft, DraftJob

Action = SendMessage | UpsertCard | PostReport | NotifyAgents | React

__all__ = [
    "KEEP", "Action", "Actor", "ConversationChange", "Address", "AuditAction", "AuthorKind", "CardView", "CommandResult", "Conversation",
    "Delivery", "DeliveryError", "Draft", "DraftJob", "DraftStatus", "EditForm", "Handoff", "InboundMessage", "Mode", "NotifyAgents", "OutboxKind",
    "PartsSent", "PlatformHealth", "PostReport", "React", "Receipt", "Role", "SendMessage", "Source", "State", "Style", "TANDEM", "Tone",
    "UpsertCard",
]
