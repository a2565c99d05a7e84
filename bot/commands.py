"""Running agent commands: every slash command, typed line and button press passes through here.

Commands are declared once (bot/registry.py, handlers in bot/desk.py) and every adapter exposes the same
registry (Slack `/tandem`, Discord app commands and buttons, console `/` lines). `invoke` checks the
permission here in the core, converts and validates arguments, runs the handler in one transaction, and
logs refusals and mistakes. `press` decides what a card button does: run its command, or (Edit) open a form;
`card_buttons` is how every adapter learns a card's buttons, labels and tones.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot import desk, desk_kb  # noqa: F401  (registers the handlers)
from bot.cards import DRAFT_COMMANDS, button_args, button_id, button_targets, parse_picker_id, picker_id, snippet_choices
from bot.registry import COMMANDS, Arg, Button, Command, CommandError, Context, OutOfScope, convert, parse_line
from bot.texts import clean_text
from vocab import AuditAction, CardView, CommandResult, DraftStatus, EditForm, Role, Tone

log = logging.getLogger(__name__)

CUSTOMER_REFUSAL = (
    "Sorry, Tandem commands are only for the support team, so nothing was done. "
    "Just write your question here, or write *human* to reach a person."
)


def _refusal(ctx: Context, name: str, args: dict[str, Any]) -> CommandResult | None:
    """The answer when `name` cannot run for this actor at all (unknown, or not their role); None if it may."""
    actor, store = ctx.actor, ctx.store
    cmd = COMMANDS.get(name)
    role = actor.role.name.lower()
    if cmd is None:
        store.log_event(actor.label, AuditAction.COMMAND_UNKNOWN, actor_role=role, command=name[:80])
        if actor.role < Role.AGENT:
            return CommandResult(CUSTOMER_REFUSAL, ok=False)
        return CommandResult(f"Unknown command `{name[:40]}`. Try `help` to see what you can do.", ok=False)
    if actor.role < cmd.role:
        store.log_event(actor.label, AuditAction.COMMAND_REFUSED, actor_role=role, command=name, args=args)
        log.warning("refused %s from %s (%s, %s)", name, actor.label, actor.platform, role)
        if actor.role < Role.AGENT:
            return CommandResult(CUSTOMER_REFUSAL, ok=False)
        return CommandResult(f"`{name}` is for {cmd.role.name.lower()}s only; nothing was changed.", ok=False)
    return None


def _error(ctx: Context, cmd: Command, exc: CommandError, *, usage: bool = True) -> CommandResult:
    role = ctx.actor.role.name.lower()
    if isinstance(exc, OutOfScope):
        ctx.store.log_event(ctx.actor.label, AuditAction.COMMAND_REFUSED, actor_role=role, command=cmd.name,
                            reason="workspace", target=exc.conversation_id, platform=ctx.actor.platform,
                            workspace=ctx.actor.workspace)
        log.warning("refused %s on #%s from %s (%s %s): another platform or workspace", cmd.name,
                    exc.conversation_id, ctx.actor.label, ctx.actor.platform, ctx.actor.workspace)
        return CommandResult(str(exc), ok=False)
    ctx.store.log_event(ctx.actor.label, AuditAction.COMMAND_ERROR, actor_role=role,
                        command=cmd.name, error=str(exc))
    return CommandResult(f"{exc}\nUsage: `{cmd.usage}`" if usage and "Usage" not in str(exc) else str(exc), ok=False)


def invoke(ctx: Context, name: str, args: dict[str, Any]) -> CommandResult:
    name = (name or "").strip().lower()
    refused = _refusal(ctx, name, args)
    if refused is not None:
        return refused
    cmd = COMMANDS[name]
    try:
        values = {a.name: convert(a, args.get(a.name)) for a in cmd.args}
        with ctx.store.atomic():
            return cmd.handler(ctx, **values)
    except CommandError as exc:
        return _error(ctx, cmd, exc)


def execute_line(ctx: Context, line: str) -> CommandResult:
    """Run a typed command line such as `approve 3` or `/tandem edit 3 New text`."""
    text = clean_text(line).lstrip("/")
    if text.lower().startswith("tandem"):
        text = text[len("tandem"):].strip()
    if not text:
        text = "help"
    name, _, rest = text.partition(" ")
    cmd = COMMANDS.get(name.lower())
    if cmd is None or ctx.actor.role < cmd.role:
        return invoke(ctx, name, {})
    try:
        args = parse_line(cmd, rest)
    except CommandError as exc:
        return _error(ctx, cmd, exc)
    return invoke(ctx, name, args)


def press(ctx: Context, command: str, target_id: int, *, snippet: str | None = None) -> CommandResult | EditForm:
    """A card button: Edit opens a form prefilled with the draft (when the draft still waits and the person may
    edit), or with a saved reply chosen in that form (`snippet`, filled for the draft's conversation); every other
    button runs its command on the draft or conversation the button carries."""
    args = button_args(command, target_id)
    if command == "edit":
        refused = _refusal(ctx, "edit", args)
        if refused is not None:
            return refused
        draft = ctx.store.draft(target_id)
        if draft is None or draft.status != DraftStatus.PENDING:
            return CommandResult(f"Draft d{target_id} is no longer waiting for review.", ok=False)
        choices = snippet_choices(ctx.conversations.snippets)
        if snippet is None:
            return EditForm(draft.id, draft.text or "", snippets=choices)
        try:
            conv = desk.conversation_in_scope(ctx, draft.conversation_id)
            saved = desk.find_snippet(ctx, snippet)
        except CommandError as exc:
            return CommandResult(str(exc), ok=False)
        log.info("%s filled the edit form of draft d%s with saved reply %s", ctx.who, draft.id, saved.name)
        return EditForm(draft.id, desk.fill_snippet(ctx, saved, conv), snippets=choices, snippet=saved.name)
    return invoke(ctx, command, args)


def submit_edit(ctx: Context, draft_id: int, text: str | None, snippet: str | None = None) -> CommandResult:
    """The Edit form sent back: its text is `edit`; with a saved reply chosen in the form as well, the rule in
    `desk.edit_with_snippet` decides what goes out (checked and logged like any command)."""
    if not snippet:
        return invoke(ctx, "edit", {"draft": draft_id, "text": text})
    refused = _refusal(ctx, "edit", {"draft": draft_id, "snippet": snippet})
    if refused is not None:
        return refused
    try:
        with ctx.store.atomic():
            return desk.edit_with_snippet(ctx, draft_id, text, snippet)
    except CommandError as exc:
        return _error(ctx, COMMANDS["edit"], exc, usage=False)


@dataclass(frozen=True)
class CardButton:
    """One button of a card as every adapter shows it: the command, the id it acts on, its label and tone
    (declared with the command in bot/desk.py), and the typed command that does the same (console, help)."""

    command: str
    target_id: int
    label: str
    tone: Tone
    typed: str

    @property
    def custom_id(self) -> str:
        return button_id(self.command, self.target_id)


def parse_button_id(value: str) -> tuple[str, int] | None:
    """'tandem:approve:3' -> ('approve', 3); anything else (another app's button, an old format) -> None."""
    parts = value.split(":")
    if len(parts) != 3 or parts[0] != "tandem" or parts[2] == "" or not parts[2].isdigit():
        return None
    command = COMMANDS.get(parts[1])
    if command is None or command.button is None:
        return None
    return parts[1], int(parts[2])


def card_buttons(card: CardView) -> list[CardButton]:
    """The card's buttons, in order, with what each platform needs to render them."""
    buttons = []
    for command, target in button_targets(card):
        spec = COMMANDS.get(command)
        if spec is None or spec.button is None:
            continue
        shown = f"d{target}" if command in DRAFT_COMMANDS else str(target)
        typed = " ".join(["/" + spec.name, shown, *(a.shown for a in spec.args[1:])])
        buttons.append(CardButton(command, target, spec.button.label, spec.button.tone, typed))
    return buttons


__all__ = ["parse_picker_id", "picker_id", "Arg", "Button", "CardButton", "COMMANDS", "Command", "CommandError", "Context", "CUSTOMER_REFUSAL",
           "card_buttons", "execute_line", "invoke", "parse_button_id", "press", "submit_edit"]
