"""Pure layout: the core's CardView and PostReport as Block Kit, and the Edit modal.

Nothing here decides anything: which buttons show, the state label and the handoff reason all come from the
core. Every text is escaped (&, <, >) before the syntax we add, so neither a customer nor a model can ping
@channel or hide a link through a message, a review card or its notification text.
"""
from __future__ import annotations

import json
import re
from typing import Any

from bot.commands import card_buttons, picker_id
from bot.texts import clip, split_text
from vocab import CardView, PostReport, Tone

TEXT_LIMIT = 3900  # per chat.postMessage; Slack advises staying under 4,000 characters
SECTION_LIMIT = 3000  # Block Kit section text
EDIT_CALLBACK = "tandem:edit"
FILL_PREFIX = "tandem:snippet-fill:"  # the Edit modal's saved-reply menu: fills the text box for that draft
OPTIONS_LIMIT = 100  # Slack's most options in a static_select
_STYLES = {Tone.GOOD: "primary", Tone.DANGER: "danger"}  # Slack has two button styles; the rest are plain


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_USER_ID = re.compile(r"\b[UW][A-Z0-9]{6,}\b")


def mention(text: str, ids: set[str] | frozenset[str]) -> str:
    """Render known Slack user ids as mentions (<@U...>), which Slack displays as the person's name."""
    return _USER_ID.sub(lambda m: f"<@{m.group(0)}>" if m.group(0) in ids else m.group(0), text)


def mentions_of(people) -> str:
    """The mentions that start an agent notice: <@U...> for each Slack user id, the name otherwise."""
    shown = [f"<@{uid}>" if _USER_ID.fullmatch(uid or "") else escape(name or uid) for uid, name in people]
    return " ".join(shown) + " " if shown else ""


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+)$", re.M)
_CHANNEL_REF = re.compile(r"#([CG][A-Z0-9]{6,})\b")


def to_mrkdwn(text: str) -> str:
    """The KB and drafts are Markdown; Slack's mrkdwn spells bold, links and headings differently."""
    text = _LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1).replace('|', '/')}>", text)
    text = _HEADING.sub(r"*\1*", text)
    return _BOLD.sub(r"*\1*", text)


def render(text: str, people: set[str] | frozenset[str] = frozenset()) -> str:
    """Any text Tandem posts as mrkdwn: escaped first, so only the syntax we add (links, known people's
    mentions) is Slack syntax; a `<!channel>` or `<https://x|masked>` in the text stays plain text."""
    return mention(to_mrkdwn(escape(text)), people)


def quote(text: str) -> str:
    return "\n".join("> " + line for line in (text or " ").splitlines() or [" "])


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}]}


def card_blocks(card: CardView, people: frozenset[str] = frozenset()) -> tuple[str, list[dict[str, Any]]]:
    """(notification text, blocks) for a review card. `people`: user ids to show as mentions (agents)."""
    people = people | {p for p in (card.customer, card.assignee or "") if _USER_ID.fullmatch(p or "")}
    title = f"Conversation #{card.conversation_id} · {card.state_label}"
    blocks: list[dict[str, Any]] = [_section(mention(f"*{escape(title)}*", people))]
    meta = [f"Customer: *{escape(card.customer)}*"]
    if card.where:
        meta.append("in " + _CHANNEL_REF.sub(r"<#\1>", escape(card.where)))
    if card.assignee:
        meta.append(f"owner: {escape(card.assignee)}")
    if card.due:
        meta.append(f"⏱ {escape(card.due)}")
    blocks.append(_context(mention(" · ".join(meta), people)))
    blocks.append(_section("*Latest message*\n" + quote(escape(clip(card.latest_message, SECTION_LIMIT - 100)))))
    if card.handoff_reason:
        blocks.append(_section(f":raising_hand: *Handed to a human:* {escape(card.handoff_reason)}"))
    if card.draft_text is not None:
        confidence = f" · confidence {card.confidence:.0%}" if card.confidence is not None else ""
        blocks.append(_section(f"*Draft d{card.draft_id}*{confidence}\n"
                               + quote(to_mrkdwn(escape(clip(card.draft_text, SECTION_LIMIT - 100))))))
        if card.sources:
            names = ", ".join(f"{escape(s.title)} ({s.score:.2f})" for s in card.sources)
            blocks.append(_context(f"Sources: {names}"))
    buttons = []
    for spec in card_buttons(card):
        button = {"type": "button", "text": {"type": "plain_text", "text": spec.label}, "action_id": spec.custom_id,
                  "value": str(spec.target_id)}
        if spec.tone in _STYLES:
            button["style"] = _STYLES[spec.tone]
        buttons.append(button)
    if card.snippets:
        buttons.append(snippet_menu(card.snippets, picker_id(card.conversation_id), "Send a saved reply…",
                                    confirm=True))
    if buttons:
        blocks.append({"type": "actions", "block_id": f"tandem:card:{card.conversation_id}", "elements": buttons})
    text = escape(f"{title}: {clip(card.latest_message, 200)}")  # the notification: no ping, no link
    return text, blocks


def snippet_menu(snippets: tuple[tuple[str, str], ...], action_id: str, placeholder: str, *,
                 confirm: bool = False) -> dict[str, Any]:
    """A static_select of saved replies (value: the name). On the card, choosing one sends it to the customer,
    so Slack asks first; in the Edit modal it only fills the text box."""
    menu: dict[str, Any] = {
        "type": "static_select", "action_id": action_id,
        "placeholder": {"type": "plain_text", "text": placeholder},
        "options": [{"text": {"type": "plain_text", "text": clip(title, 75)}, "value": name[:150],
                     "description": {"type": "plain_text", "text": clip(name, 75)}}
                    for name, title in snippets[:OPTIONS_LIMIT]],
    }
    if confirm:
        menu["confirm"] = {"title": {"type": "plain_text", "text": "Send a saved reply?"},
                           "text": {"type": "plain_text", "text": "It goes to the customer now, as your reply, and "
                                                                  "you own the conversation after."},
                           "confirm": {"type": "plain_text", "text": "Send"},
                           "deny": {"type": "plain_text", "text": "Cancel"}}
    return menu


def report_blocks(report: PostReport) -> tuple[str, list[dict[str, Any]]]:
    """(notification text, blocks) for the digest: header, summary, headline fields, one section per heading."""
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": clip(report.title, 150)}}]
    if report.summary:
        blocks.append(_section(escape(report.summary)))
    fields = [{"type": "mrkdwn", "text": clip(f"*{escape(label)}*\n{escape(value)}", 2000)}
              for label, value in report.fields]
    for start in range(0, len(fields), 10):  # Slack allows at most 10 fields per section
        blocks.append({"type": "section", "fields": fields[start:start + 10]})
    for heading, body in report.sections:
        blocks.append({"type": "divider"})
        blocks.append(_section(f"*{escape(heading)}*\n{escape(body)}"))
    return escape(report.title), blocks[:50]


def edit_modal(draft_id: int, text: str, *, channel: str = "", snippets: tuple[tuple[str, str], ...] = (),
               snippet: str | None = None, version: str = "") -> dict[str, Any]:
    """The modal opened by Edit, prefilled with the draft; private_metadata carries the draft id. With saved
    replies, a menu above the text box fills it with the one chosen (`snippet`: the text came from it; the text
    box then gets a new block id from `version`, the only way Slack shows a new initial value in an open modal)."""
    menu = [{"type": "actions", "block_id": "snippets",
             "elements": [snippet_menu(snippets, f"{FILL_PREFIX}{draft_id}", "Start from a saved reply…")]}
            ] if snippets else []
    return {
        "type": "modal",
        "callback_id": EDIT_CALLBACK,
        "private_metadata": json.dumps({"draft": draft_id, "channel": channel, "snippet": snippet}),
        "title": {"type": "plain_text", "text": f"Edit draft d{draft_id}"[:24]},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [*menu, {
            "type": "input", "block_id": f"draft:{version}"[:255] if version else "draft",
            "label": {"type": "plain_text", "text": "Reply to the customer"},
            "element": {"type": "plain_text_input", "action_id": "text", "multiline": True,
                        "initial_value": text[:3000], "max_length": 3000},
        }],
    }


def split_message(text: str) -> list[str]:
    """The parts of a long message, each fitting one chat.postMessage."""
    return split_text(text, TEXT_LIMIT)
