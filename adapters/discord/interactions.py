"""What agents press and type on Discord: card buttons, the Edit modal and the `/tandem` app command group.

Buttons are `DynamicItem`s whose custom id carries only the command and an id (`tandem:approve:12`), so a
card posted before a restart keeps working; the modal's custom id is built the same way and its submit is
handled statelessly from the payload. The app command group is generated from `bot.commands.COMMANDS`
(names, argument kinds, help), never a copied list. Every path defers first (Discord's 3-second limit), calls
`Core.invoke` (`Core.press` for buttons), and answers ephemerally; the core checks the role and logs refusals.
The interaction id goes with every call as its delivery key: the core runs each once, durably, so an
INTERACTION_CREATE replayed after a restart is answered "already done" (in one session it is not even deferred).
"""
from __future__ import annotations

import inspect
import logging
import re
from typing import Any, Literal, Protocol

import discord
from discord import app_commands

from adapters.discord import translate
from bot.cards import button_id
from bot.commands import COMMANDS, Arg, CardButton, Command, picker_id
from bot.texts import clip
from bot.ports import CoreAPI
from vocab import Actor, CommandResult, EditForm, Role

log = logging.getLogger(__name__)

EDIT_SUBMIT = re.compile(r"tandem:editsubmit:(?P<id>\d+)")
PICKER_ID = r"tandem:snippet-to:(?P<id>\d+)"  # bot.cards.picker_id
MENU_OPTIONS = 25  # Discord's most options in a select menu (`/tandem snippets` lists them all)
TEXT_FIELD = "text"
SNIPPET_FIELD = "snippet"  # the Edit form's saved-reply menu
SNIPPET_HELP = "Sent in place of the draft when the text above is left as it is or cleared."
NO_PINGS = discord.AllowedMentions.none()
MODAL_TEXT_LIMIT = 4000
# Who sees `/tandem` by default: members who can manage messages (moderators, admins). A server admin can
# grant it to the agent role under Server Settings > Integrations; the role check at run time stays.
STAFF_PERMISSIONS = discord.Permissions(manage_messages=True)


class Host(Protocol):
    """What interactions need of the adapter that owns the client (DiscordAdapter)."""

    core: CoreAPI

    def actor(self, user: discord.abc.User) -> Actor: ...
    def seen_interaction(self, interaction_id: int) -> bool: ...


def _adapter(interaction: discord.Interaction) -> Host:
    return interaction.client.adapter  # type: ignore[attr-defined]


async def answer(interaction: discord.Interaction, result: CommandResult) -> None:
    """Send the command's result ephemerally, whether or not the interaction was deferred."""
    pieces = translate.split_message(result.text)
    for i, piece in enumerate(pieces):
        if i == 0 and not interaction.response.is_done():
            await interaction.response.send_message(piece, ephemeral=True, allowed_mentions=NO_PINGS)
        else:
            await interaction.followup.send(piece, ephemeral=True, allowed_mentions=NO_PINGS)


def _opens_form(command: str) -> bool:
    spec = COMMANDS.get(command)
    return bool(spec and spec.button and spec.button.form)


async def run(interaction: discord.Interaction, command: str, args: dict[str, Any] | None = None, *,
              target_id: int | None = None, form: bool = False) -> None:
    """Defer, call the core, answer: the one path for buttons (`target_id`), modal submits (`form`: the Edit
    form's fields in `args`) and app commands.

    A button declared as opening a form is not deferred, because a form must be the interaction's first
    response (the core's answer takes milliseconds)."""
    adapter = _adapter(interaction)
    if adapter.seen_interaction(interaction.id):
        log.info("interaction %s delivered again (gateway replay); ignored", interaction.id)
        return
    actor = adapter.actor(interaction.user)
    try:
        if not interaction.response.is_done() and not (target_id is not None and _opens_form(command)):
            await interaction.response.defer(ephemeral=True, thinking=True)
        key = f"discord:interaction:{interaction.id}"
        if form:
            fields = args or {}
            outcome = await adapter.core.submit_edit(actor, fields["draft"], fields.get("text"),
                                                     snippet=fields.get("snippet"), delivery=key)
        elif target_id is None:
            outcome = await adapter.core.invoke(actor, command, args or {}, delivery=key)
        else:
            outcome = await adapter.core.press(actor, command, target_id, delivery=key)
        if isinstance(outcome, EditForm):
            await interaction.response.send_modal(EditModal(outcome.draft_id, outcome.text, outcome.snippets))
            return
    except discord.HTTPException as exc:
        log.warning("could not acknowledge %s from %s: %s", command, actor.label, exc)
        return
    except Exception:
        log.exception("command %s from %s failed", command, actor.label)
        outcome = CommandResult("Something went wrong; it was logged. Nothing may have changed.", ok=False)
    log.info("%s %s %s by %s (%s): %s", "ran" if outcome.ok else "refused/failed", command,
             args if target_id is None else f"#{target_id}", actor.label, actor.role.name.lower(),
             outcome.text.splitlines()[0][:120] if outcome.text else "")
    try:
        await answer(interaction, outcome)
    except discord.HTTPException as exc:
        log.warning("could not answer %s to %s: %s", command, actor.label, exc)


class CardButtonItem(discord.ui.DynamicItem[discord.ui.Button], template=translate.CUSTOM_ID):
    """A review-card button; everything but the command and id is looked up in SQLite when pressed."""

    def __init__(self, command: str, target_id: int, label: str, style: discord.ButtonStyle) -> None:
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=button_id(command, target_id)))
        self.command = command
        self.target_id = target_id

    @classmethod
    def of(cls, button: CardButton) -> "CardButtonItem":
        return cls(button.command, button.target_id, button.label, translate.button_style(button))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /):
        return cls(match["command"], int(match["id"]), item.label or match["command"], item.style)

    async def callback(self, interaction: discord.Interaction) -> None:
        await run(interaction, self.command, target_id=self.target_id)


def snippet_options(snippets: tuple[tuple[str, str], ...]) -> list[discord.SelectOption]:
    """A menu's saved replies (name, title) as Discord options: the title shown, the name as value and under it."""
    return [discord.SelectOption(label=clip(title, 100), value=name[:100], description=clip(name, 100))
            for name, title in snippets[:MENU_OPTIONS]]


class SnippetPicker(discord.ui.DynamicItem[discord.ui.Select], template=PICKER_ID):
    """The card's saved-reply menu: choosing one sends it to the card's conversation, as `snippet` does. Like the
    buttons, its custom id carries the conversation, so a card posted before a restart keeps working."""

    def __init__(self, conversation_id: int, snippets: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(discord.ui.Select(custom_id=picker_id(conversation_id), placeholder="Send a saved reply…",
                                           min_values=1, max_values=1,
                                           options=snippet_options(snippets) or [discord.SelectOption(label="-",
                                                                                                      value="-")]))
        self.conversation_id = conversation_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Select, match: re.Match[str], /):
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        values = (interaction.data or {}).get("values") or [""]
        await run(interaction, "snippet", {"name": str(values[0]), "conversation": self.conversation_id})


class EditModal(discord.ui.Modal):
    """The Edit form, prefilled with the draft, with a menu of saved replies under it (optional): a Discord form
    cannot fill its text box from the menu as Slack's does, so the core decides on submit what a choice means
    (`Core.submit_edit`). Its submit is handled by `on_modal_submit` from the payload, not in memory."""

    def __init__(self, draft_id: int, text: str, snippets: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(title=f"Edit draft d{draft_id}"[:45], custom_id=f"tandem:editsubmit:{draft_id}", timeout=900)
        self.add_item(discord.ui.Label(text="Reply to the customer", component=discord.ui.TextInput(
            custom_id=TEXT_FIELD, style=discord.TextStyle.paragraph, default=text[:MODAL_TEXT_LIMIT],
            max_length=MODAL_TEXT_LIMIT, required=False)))
        if snippets:
            self.add_item(discord.ui.Label(
                text="Or send a saved reply instead", description=SNIPPET_HELP,
                component=discord.ui.Select(custom_id=SNIPPET_FIELD, placeholder="Choose a saved reply…",
                                            options=snippet_options(snippets), min_values=0, max_values=1,
                                            required=False)))


def _field(components: list, field_id: str) -> dict | None:
    """A field of a modal submit, whether wrapped in action rows (type 1) or labels (18): a text input carries
    its `value`, a string select its chosen `values`."""
    for comp in components or ():
        if not isinstance(comp, dict):
            continue
        if comp.get("custom_id") == field_id and ("value" in comp or "values" in comp):
            return comp
        nested = comp.get("components") or ([comp["component"]] if isinstance(comp.get("component"), dict) else [])
        found = _field(nested, field_id)
        if found is not None:
            return found
    return None


def _field_value(components: list, field_id: str) -> str | None:
    """A text input's value in a modal submit (None when it is not there)."""
    found = _field(components, field_id)
    return str(found["value"]) if found is not None and "value" in found else None


def _chosen(components: list, field_id: str) -> str | None:
    """The option chosen in a string select of a modal submit (None when nothing was chosen)."""
    found = _field(components, field_id)
    values = (found or {}).get("values") or ()
    return str(values[0]) if values else None


async def on_modal_submit(interaction: discord.Interaction) -> None:
    data = interaction.data or {}
    match = EDIT_SUBMIT.fullmatch(str(data.get("custom_id", "")))
    if match is None:
        return
    components = data.get("components", [])
    await run(interaction, "edit", {"draft": int(match["id"]), "text": _field_value(components, TEXT_FIELD),
                                    "snippet": _chosen(components, SNIPPET_FIELD)}, form=True)


# ---- /tandem app commands, generated from the registry ----------------------------------------------------

_KIND_TYPES: dict[str, Any] = {"conversation": int, "draft": str, "int": int,
                               "days": app_commands.Range[int, 1, 366], "text": str, "agent": discord.Member,
                               "snippet": str}
_KIND_HELP = {"conversation": "Conversation number (#)", "draft": "Draft id, e.g. d4", "text": "Text",
              "snippet": "Saved reply (start typing its name or title)",
              "agent": "The agent", "days": "Number of days (1-366)", "int": "A number"}


def _annotation(arg: Arg) -> Any:
    if arg.choices:
        return Literal[tuple(arg.choices)]  # type: ignore[valid-type]
    return _KIND_TYPES.get(arg.kind, str)


def _value(value: Any) -> Any:
    """A member as the core reads a person: `<@id|name>`, so it can mention them (bot/routing.parse_ref)."""
    if isinstance(value, (discord.Member, discord.User)):
        return f"<@{value.id}|{value.display_name}>"
    return value


def subcommand(cmd: Command) -> app_commands.Command:
    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        await run(interaction, cmd.name, {k: _value(v) for k, v in values.items() if v is not None})

    params = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction)]
    for arg in cmd.args:
        params.append(inspect.Parameter(arg.name, inspect.Parameter.KEYWORD_ONLY, annotation=_annotation(arg),
                                        default=inspect.Parameter.empty if arg.required else None))
    callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    callback.__name__ = callback.__qualname__ = f"tandem_{cmd.name}"
    # the attribute @app_commands.describe sets; read when the Command is built
    callback.__discord_app_commands_param_description__ = {  # type: ignore[attr-defined]
        a.name: (a.help or _KIND_HELP.get(a.kind) or a.name)[:100] for a in cmd.args}
    command = app_commands.Command(name=cmd.name, description=(cmd.help or cmd.usage)[:100] or cmd.name,
                                   callback=callback)
    for arg in cmd.args:
        if arg.kind == "snippet":
            command.autocomplete(arg.name)(complete_snippet)
    return command


async def complete_snippet(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """The saved replies matching what the agent typed so far (none for anyone who is not an agent)."""
    adapter = _adapter(interaction)
    actor = adapter.actor(interaction.user)
    if actor.role < Role.AGENT:
        log.info("autocomplete of saved replies refused to %s (%s)", actor.label, actor.role.name.lower())
        return []
    found = adapter.core.snippet_choices(current or "", MENU_OPTIONS)
    log.debug("autocomplete %r for %s: %d saved replies", current, actor.label, len(found))
    return [app_commands.Choice(name=clip(f"{name} · {title}", 100), value=name[:100]) for name, title in found]


def tandem_group() -> app_commands.Group:
    group = app_commands.Group(name="tandem", description="Tandem support desk: review drafts and conversations",
                               guild_only=True, default_permissions=STAFF_PERMISSIONS)
    for cmd in COMMANDS.values():
        group.add_command(subcommand(cmd))
    return group
