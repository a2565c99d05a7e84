"""The review card: what agents see for one conversation, decided here once for every platform.

Adapters lay a `CardView` out (Block Kit, an embed, console text) but never decide which buttons
exist or what the state means; that is what this module is for.
"""
from __future__ import annotations

import json

from bot.ports import Store
from bot.teach import CARD_WINDOW, card_offer
from bot.sla import SlaClock, due_label
from bot.texts import clip
from vocab import CardView, Conversation, DraftStatus, State

CARD_MESSAGE_CHARS = 1000
CARD_DRAFT_CHARS = 2500

REASONS = {
    "asked_for_human": "asked for a person",
    "low_confidence": "no confident answer",
    "sensitive_topic": "sensitive topic",
    "frustration": "customer frustrated",
    "drafter_error": "drafter failed",
    "draft_rejected": "draft rejected",
    "bot_off": "bot is off",
    "attachment": "sent files",
    "reopened": "reopened",
}


DRAFT_COMMANDS = frozenset({"approve", "edit", "reject"})  # buttons that act on a draft; the rest on the conversation


def button_targets(card: CardView) -> list[tuple[str, int]]:
    """(command, id) for each of the card's buttons: the id a button's custom id carries."""
    targets = []
    for command in card.buttons:
        target = card.draft_id if command in DRAFT_COMMANDS else card.conversation_id
        if target is not None:
            targets.append((command, int(target)))
    return targets


def button_args(command: str, target_id: int) -> dict[str, int]:
    """The `Core.invoke` arguments of a button press: a draft id or a conversation id."""
    return {"draft": target_id} if command in DRAFT_COMMANDS else {"conversation": target_id}


def button_id(command: str, target_id: int) -> str:
    """The id a platform button carries: 'tandem:approve:3'."""
    return f"tandem:{command}:{target_id}"


def _held(store: Store, conversation_id: int, draft_id: int) -> list[str]:
    """Why the pending draft waits for review although auto mode could have sent it (its draft_ready audit row)."""
    details = store.draft_ready_details(conversation_id, draft_id)
    return json.loads(details or "{}").get("held", []) if details is not None else []


PICKER = "tandem:snippet-to:"  # the saved-reply picker's id (the '-' keeps it apart from the buttons' ids)


def picker_id(conversation_id: int) -> str:
    """The id the card's saved-reply picker carries: 'tandem:snippet-to:3' (it sends to conversation #3)."""
    return f"{PICKER}{conversation_id}"


def parse_picker_id(value: str) -> int | None:
    """'tandem:snippet-to:3' -> 3; anything else -> None."""
    rest = value[len(PICKER):] if value.startswith(PICKER) else ""
    return int(rest) if rest.isdigit() and len(rest) <= 12 else None


def snippet_choices(snippets) -> tuple[tuple[str, str], ...]:
    """The saved-reply picker's options, (name, title), in name order (a SnippetBook has them ready)."""
    choices = getattr(snippets, "choices", None)
    return choices if choices is not None else tuple((s.name, s.title) for s in snippets)


def build_card(store: Store, conv: Conversation, snippets=(), clock: SlaClock | None = None, *,
               auto_threshold: float | None = 0.0, targets: bool = True) -> CardView:
    """The card for `conv`; `snippets` (the saved replies) fill the picker of a conversation still open, and
    `clock` counts its due time (the conversation service's, support hours or 24x7). What cannot be on this card
    is not read: a draft held back from an automatic send exists only in auto mode (`auto_threshold`, None
    otherwise) and at a confidence that reached it; a due time only when response targets are set (`targets`)."""
    clock = clock or SlaClock(None)
    open_drafts = store.open_drafts(conv.id)  # one read: the draft awaiting review, and whether one is drafting
    draft = next((d for d in open_drafts if d.status == DraftStatus.PENDING), None)
    drafting = any(d.status == DraftStatus.DRAFTING for d in open_drafts)
    messages = store.recent_messages(conv.id, limit=CARD_WINDOW)
    latest = next((m for m in reversed(messages) if m["author_kind"] == "customer"), None)
    latest_text = latest["text"] if latest else ""
    if latest and latest["attachments"]:
        latest_text = (latest_text + f" [{latest['attachments']} file(s)]").strip()
    reason = REASONS.get(conv.handoff_reason or "", conv.handoff_reason)
    state = State(conv.state)
    if state == State.RESOLVED:
        ratings = store.ratings_for(conv.id)
        label = "✅ Resolved" + (f" · rated {ratings[-1]}/5" if ratings else "")
        buttons: tuple[str, ...] = ()
    elif state == State.HUMAN:
        label = f"👤 Owned by {conv.assignee or 'an agent'}"
        buttons = ("handback", "resolve")
    elif state == State.WAITING_HUMAN:
        label = f"🙋 Waiting for a person: {reason}"
        buttons = ("approve", "edit", "reject", "takeover", "resolve") if draft else ("takeover", "resolve")
    elif draft:
        label = "📝 Draft waiting for review"
        buttons = ("approve", "edit", "reject", "takeover")
    elif drafting:
        label = "⏳ Drafting a reply"
        buttons = ("takeover",)
    else:
        label = "🤖 Bot is handling it"
        buttons = ("takeover", "resolve")
    if draft and auto_threshold is not None and (draft.confidence or 0.0) >= auto_threshold \
            and (held := _held(store, conv.id, draft.id)):
        label += " · not sent automatically: " + "; ".join(held)
    taught, note = card_offer(store, conv, messages)
    buttons = (*buttons, *taught)
    label += f" · {note}" if note else ""
    where = "DM" if conv.is_dm else f"#{conv.channel}" + (f" thread {conv.thread}" if conv.thread else "")
    return CardView(
        conversation_id=conv.id,
        platform=conv.platform,
        customer=conv.customer,
        state=conv.state,
        state_label=label,
        latest_message=clip(latest_text, CARD_MESSAGE_CHARS),
        draft_id=draft.id if draft else None,
        draft_text=clip(draft.text or "", CARD_DRAFT_CHARS) if draft else None,
        confidence=draft.confidence if draft else None,
        sources=draft.source_list if draft else (),
        handoff_reason=reason if state == State.WAITING_HUMAN else None,
        assignee=conv.assignee,
        buttons=buttons,
        where=where,
        snippets=snippet_choices(snippets) if state != State.RESOLVED else (),
        due=due_label(clock, target["due_at"], store.clock()) if targets and (target := store.open_target(conv.id))
        else None,
    )
