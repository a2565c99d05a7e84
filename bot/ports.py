"""The core's contracts with the outside: the storage engine, the digest's queries and a platform adapter.

The core types against these protocols and never imports an implementation: `storage/` provides the
SQLite store, `adapters/` the platforms, and the composition root (tandem/) wires them together. A second
storage engine or a third platform is one new package that satisfies the protocol here.

Store calls are synchronous and run on the event loop: each is one or two indexed SQLite statements on a
local file (tens of microseconds; see bench/store_calls.py and the README), cheaper than a hop to a thread.
Slow reads (the digest over a million messages) run in a thread on a connection of their own, opened with
`Store.reader()`.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from bot.config import Settings
from vocab import (
    Action,
    Actor,
    Address,
    AuditAction,
    AuthorKind,
    CommandResult,
    Conversation,
    ConversationChange,
    Delivery,
    DeliveryError,
    Draft,
    DraftStatus,
    EditForm,
    Handoff,
    InboundMessage,
    NotifyAgents,
    OutboxKind,
    PartsSent,
    PlatformHealth,
    PostReport,
    React,
    Receipt,
    SendMessage,
    UpsertCard,
)
from vocab.health import WatchSnapshot

Row = dict[str, Any]


class Analytics(Protocol):
    """The read-only queries behind the digest; `start`/`end` are ISO UTC strings bounding [start, end)."""

    def conversations(self, start: str, end: str) -> list[tuple]: ...
    def draft_status_counts(self, start: str, end: str) -> dict[str, int]: ...
    def draft_status_by_bucket(self, start: str, end: str) -> list[tuple[str, str, int]]: ...
    def draft_waits(self, start: str, end: str) -> list[tuple[str | None, float]]: ...
    def edit_shares(self, start: str, end: str) -> list[float]: ...
    def knowledge_gaps(self, start: str, end: str, low_confidence: float, limit: int = 3000) -> list[str]: ...
    def handoffs_by_reason(self, start: str, end: str) -> dict[str, int]: ...
    def action_counts(self, start: str, end: str, actions: tuple[AuditAction, ...]) -> dict[str, int]: ...
    def agent_activity(self, start: str, end: str) -> list[tuple]: ...
    def csat(self, start: str, end: str) -> tuple[float | None, int, int]: ...
    def response_targets(self, start: str, end: str) -> list[tuple]: ...


class Store(Protocol):
    """Everything the core reads and writes. Times are ISO-8601 UTC strings from the injected clock."""

    clock: Callable[[], datetime]
    path: str

    def now(self) -> str: ...
    def atomic(self) -> AbstractContextManager: ...
    def analytics(self) -> Analytics: ...
    def reader(self) -> AbstractContextManager[Analytics]: ...
    def reader_factory(self) -> Callable[[], AbstractContextManager[Analytics]] | None: ...

    # inbox
    def record_inbound(self, platform: str, event_id: str, kind: str, payload: dict) -> tuple[int, bool]: ...
    def pending_inbox(self, limit: int = 100) -> list[Row]: ...
    def mark_inbox_done(self, inbox_id: int, error: str | None = None) -> None: ...
    def count_inbox(self, status: str) -> int: ...

    # conversations
    def latest_conversation_at(self, address: Address) -> Conversation | None: ...
    def open_conversation(self, address: Address, customer_id: str, customer_name: str,
                          language: str) -> Conversation: ...
    def conversation(self, conversation_id: int) -> Conversation | None: ...
    def change_conversation(self, conversation_id: int, change: ConversationChange) -> Conversation: ...
    def conversations_needing_agent(self) -> list[Row]: ...
    def set_card_ref(self, conversation_id: int, channel: str, ref: str) -> None: ...

    # messages
    def append_message(self, conversation_id: int, author_kind: AuthorKind, text: str, platform: str, *,
                       author_id: str = "", author_name: str = "", platform_message_id: str | None = None,
                       draft_id: int | None = None, inbox_id: int | None = None, attachments: int = 0) -> int: ...
    def message(self, message_id: int) -> Row | None: ...
    def message_by_platform_id(self, platform: str, platform_message_id: str) -> Row | None: ...
    def mark_message_edited(self, message_id: int, new_text: str) -> None: ...
    def mark_message_deleted(self, message_id: int) -> None: ...
    def mark_message_delivered(self, message_id: int, platform_message_id: str) -> None: ...
    def recent_messages(self, conversation_id: int, limit: int = 20) -> list[Row]: ...
    def recent_customer_texts(self, conversation_id: int, limit: int = 5) -> list[str]: ...
    def first_customer_message_ref(self, conversation_id: int) -> str | None: ...

    # drafts
    def create_draft_job(self, conversation_id: int, message_id: int) -> int: ...
    def draft(self, draft_id: int) -> Draft | None: ...
    def drafts_in_progress(self, after_id: int = 0, limit: int = -1) -> list[Draft]: ...
    def count_drafts_in_progress(self) -> int: ...
    def has_draft_in_progress(self, conversation_id: int) -> bool: ...
    def pending_draft(self, conversation_id: int) -> Draft | None: ...
    def supersede_open_drafts(self, conversation_id: int, by: str) -> list[int]: ...
    def complete_draft(self, draft_id: int, *, status: DraftStatus, text: str | None, sources: list[dict],
                       confidence: float | None, drafter: str, model: str | None, latency_ms: float,
                       handoff_reason: Handoff | None = None, language: str | None = None) -> None: ...
    def last_draft_language(self, conversation_id: int) -> str | None: ...
    def decide_draft(self, draft_id: int, status: DraftStatus, decided_by: str, *, final_text: str | None = None,
                     edit_distance: int | None = None, reject_reason: str | None = None) -> None: ...

    # audit, ratings, settings
    def log_event(self, actor: str, action: AuditAction, *, actor_role: str = "",
                  conversation_id: int | None = None, draft_id: int | None = None, **details: Any) -> int: ...
    def events_for(self, conversation_id: int) -> list[Row]: ...
    def events_named(self, action: AuditAction | str) -> list[Row]: ...
    def last_event(self, action: AuditAction) -> Row | None: ...
    def add_rating(self, conversation_id: int, rating: int, customer_id: str) -> int: ...
    def ratings_for(self, conversation_id: int) -> list[int]: ...
    def setting(self, key: str) -> str | None: ...
    def set_setting(self, key: str, value: str) -> None: ...
    def export_conversations(self) -> Iterator[Row]: ...

    # duty and response-time targets (storage/duty.py)
    def set_duty(self, platform: str, workspace: str, user_id: str, name: str, on: bool, by: str) -> bool: ...
    def duty_agent(self, platform: str, workspace: str, user_id: str) -> Row | None: ...
    def find_duty_agent(self, platform: str, workspace: str, ref: str) -> Row | None: ...
    def duty_agents(self, platform: str | None = None) -> list[Row]: ...
    def mark_assigned(self, platform: str, workspace: str, user_id: str) -> None: ...
    def open_conversations_of(self, platform: str, user_id: str) -> list[int]: ...
    def start_target(self, conversation_id: int, kind: str, started_at: str, warn_at: str,
                     due_at: str) -> int | None: ...
    def open_target(self, conversation_id: int) -> Row | None: ...
    def target(self, target_id: int) -> Row | None: ...
    def has_targets(self, conversation_id: int) -> bool: ...
    def close_target(self, target_id: int, *, answered: bool, past_s: float | None) -> None: ...
    def targets_to_alert(self, limit: int = 100) -> list[Row]: ...
    def next_target_alert_at(self) -> str | None: ...
    def mark_target_alerted(self, target_id: int, level: str, assignee: str | None) -> None: ...
    def record_delivery(self, key: str, command: str = "") -> bool: ...
    def prune_deliveries(self, before: str) -> int: ...
    def purge_before(self, before: str, actor: str = "tandem") -> dict[str, int]: ...

    # lessons: what agents taught the knowledge base (bot/teach.py)
    def add_lesson(self, **fields: Any) -> int: ...
    def lesson(self, lesson_id: int) -> Row | None: ...
    def lessons(self, *, status: str | None = None, article_id: str | None = None,
                conversation_id: int | None = None) -> list[Row]: ...
    def decide_lessons(self, lesson_ids: list[int], status: str, decided_by: str) -> None: ...
    def team_answers(self, platform: str, workspace: str, *, limit: int = 2000) -> list[Row]: ...

    # outbox
    def enqueue_action(self, platform: str, kind: OutboxKind, payload: dict, *, conversation_id: int | None = None,
                       message_id: int | None = None, key: str | None = None) -> int | None: ...
    def due_actions(self, limit: int = 50) -> list[Row]: ...
    def next_action_due_at(self) -> str | None: ...
    def mark_action_sending(self, action_id: int) -> None: ...
    def mark_action_sent(self, action_id: int, ref: str = "") -> None: ...
    def mark_action_retry(self, action_id: int, error: str, next_attempt_at: str, *, in_flight: bool = False) -> None: ...
    def keep_parts_sent(self, action_id: int, done: int, first_ref: str) -> None: ...
    def mark_action_failed(self, action_id: int, error: str) -> None: ...
    def mark_action_dropped(self, action_id: int, why: str) -> None: ...
    def undelivered_count(self) -> int: ...
    def outbox_rows(self) -> list[Row]: ...
    def outbox_backlog(self) -> dict[str, int]: ...
    def watch_snapshot(self) -> WatchSnapshot: ...


class Watch(Protocol):
    """The core's metrics (bot.metrics.Metrics): what adapters observe, and what `GET /metrics` answers."""

    def observe_ack(self, platform: str, seconds: float) -> None:
        """An inbound event took `seconds` from reaching the adapter to being recorded (then acknowledged)."""

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""


class CoreAPI(Protocol):
    """What adapters and background services may use of the core (bot.core.Core implements it)."""

    settings: Settings
    store: Store
    adapters: Mapping[str, "Adapter"]
    metrics: Watch

    def acknowledging(self) -> AbstractContextManager[None]:
        """Around the part of a platform request computed before it is answered: background work gives way."""
        ...

    async def receive(self, event: InboundMessage) -> Receipt:
        """Record an inbound event; the adapter acknowledges the platform after this returns."""

    # `delivery`: the platform's key for this input (a Slack trigger_id, a Discord interaction id). The core runs
    # each key once, durably; a repeat returns a short "already done" result with data["duplicate"] = True.
    async def execute(self, actor: Actor, line: str, *, delivery: str | None = None) -> CommandResult:
        """Run a typed command line."""

    async def invoke(self, actor: Actor, name: str, args: dict[str, Any], *,
                     delivery: str | None = None) -> CommandResult:
        """Run a command with its arguments already apart."""

    async def press(self, actor: Actor, command: str, target_id: int, *,
                    delivery: str | None = None, snippet: str | None = None) -> CommandResult | EditForm:
        """A review-card button: the answer to show, or the Edit form to open (`snippet`: the Edit form again,
        its text filled from that saved reply)."""

    async def submit_edit(self, actor: Actor, draft_id: int, text: str | None, *, snippet: str | None = None,
                          delivery: str | None = None) -> CommandResult:
        """The Edit form sent back: its text as `edit`, or the saved reply chosen in the form (sent filled as the
        edit when the text was left as the draft or cleared; with a changed text too, nothing is sent)."""

    def snippet_choices(self, query: str = "", limit: int = 25) -> list[tuple[str, str]]:
        """Saved replies matching `query` (all when empty), (name, title), best first."""

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until everything recorded is processed, drafted and delivered."""

    def wake_outbox(self) -> None:
        """Rows were added to the outbox outside the core's own paths: deliver them now."""


class Adapter(Protocol):
    """A platform (Slack, Discord, the console). It turns payloads into `InboundMessage`s for `Core.receive`
    and agent input into `Core.execute` / `Core.invoke` / `Core.press` calls, and delivers the core's actions.
    It holds no business rules and writes no SQL. The core only ever calls the methods below."""

    platform: str  # "slack" | "discord" | "console": matches Address.platform of its conversations

    async def start(self, core: CoreAPI) -> None:
        """Connect and begin listening. Returns once connected; listening continues in background tasks."""

    async def stop(self) -> None:
        """Disconnect and release resources."""

    async def deliver(self, action: Action) -> Delivery:
        """Perform one outbound action. Raise `DeliveryError` on failure (retry=False if hopeless).

        `action.key` names this outbox row; an adapter passes it to the platform where the platform can
        deduplicate by it or store it with the message (Discord's nonce, Slack's message metadata)."""


class FindsDelivered(Protocol):
    """An optional capability: an adapter that can look on the platform for an action sent under its key.

    The dispatcher asks before sending again a row that was in flight when the last process died. Return the
    `Delivery` if all of it is there; None if it is not (or only partly: then advance `action.parts` past the
    parts found, so the send resumes after them)."""

    async def find_delivered(self, action: Action) -> Delivery | None: ...

    # Optional: `def health(self) -> PlatformHealth` (connected, last event received). An adapter without it
    # is reported as connected once started; see `platform_health` below.


def platform_health(adapter: Adapter) -> PlatformHealth:
    """The adapter's own report when it has one (`health()`), else connected-since-started."""
    report = getattr(adapter, "health", None)
    return report() if callable(report) else PlatformHealth(adapter.platform, True)


async def route(
    action: Action,
    *,
    send: Callable[[SendMessage], Awaitable[Delivery]],
    card: Callable[[UpsertCard], Awaitable[Delivery]],
    report: Callable[[PostReport], Awaitable[Delivery]],
    notify: Callable[[NotifyAgents], Awaitable[Delivery]],
    react: Callable[[React], Awaitable[Delivery]],
) -> Delivery:
    """Call the adapter's handler for this kind of action; an unknown kind cannot be delivered by retrying."""
    if isinstance(action, SendMessage):
        return await send(action)
    if isinstance(action, UpsertCard):
        return await card(action)
    if isinstance(action, PostReport):
        return await report(action)
    if isinstance(action, NotifyAgents):
        return await notify(action)
    if isinstance(action, React):
        return await react(action)
    raise DeliveryError(f"cannot deliver {type(action).__name__}", retry=False)


async def send_parts(parts: list[str], send_one: Callable[[str], Awaitable[str]], sent: PartsSent) -> str:
    """Post `parts` in order, starting after those already sent; return the first part's platform id.

    `sent` is updated after every part, so when a later part fails the outbox keeps the count and the
    retry resumes there: the customer never sees the first half of a long answer twice.
    """
    for part in parts[sent.done:]:
        ref = await send_one(part)
        sent.first_ref = sent.first_ref or ref
        sent.done += 1
    return sent.first_ref
