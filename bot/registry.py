"""The command registry: how a command is declared (name, arguments, who may run it, its button) and how typed
arguments are parsed and checked. The handlers are in bot/desk.py; running them is bot/commands.py.
"""
from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.conversations import ConversationService
from bot.ports import Store
from vocab import Actor, CommandResult, Role, Tone


@dataclass
class Later(CommandResult):
    """A command whose answer takes heavy reading (the digest on a large log): the handler returns this, the
    core runs `work` after the command's transaction, and the agent sees what `work` returns. A plain function
    runs in a worker thread; a coroutine function is awaited (it may hand the work to a child process).
    `work` must read on a connection of its own (`Store.reader()`), never write."""

    work: Callable[[], CommandResult] | Callable[[], Awaitable[CommandResult]] | None = None


class CommandError(Exception):
    """A command cannot be carried out; the message is shown to the agent as it is."""


class OutOfScope(CommandError):
    """The command names a conversation of another platform or workspace: refused, and logged as a refusal."""

    def __init__(self, message: str, conversation_id: int):
        super().__init__(message)
        self.conversation_id = conversation_id


@dataclass(frozen=True)
class Arg:
    name: str
    kind: str  # conversation | draft | text | int | choice | agent | days
    required: bool = True
    rest: bool = False  # takes the rest of the line (free text)
    choices: tuple[str, ...] = ()
    help: str = ""

    @property
    def shown(self) -> str:
        label = "|".join(self.choices) if self.choices else self.name
        return f"<{label}>" if self.required else f"[{label}]"


@dataclass(frozen=True)
class Button:
    """How a command shows as a button on the review card: its label and tone (adapters map the tone to their
    platform's button styles)."""

    label: str
    tone: Tone = Tone.PLAIN
    form: bool = False  # pressing it may open a form (so a platform must not answer "thinking…" first)


@dataclass(frozen=True)
class Command:
    name: str
    args: tuple[Arg, ...]
    role: Role
    help: str
    handler: Callable[..., CommandResult]
    button: Button | None = None

    @property
    def usage(self) -> str:
        return " ".join([self.name, *(a.shown for a in self.args)])


COMMANDS: dict[str, Command] = {}


def command(name: str, *args: Arg, role: Role = Role.AGENT, help: str = "", button: Button | None = None):
    def register(fn: Callable[..., CommandResult]) -> Callable[..., CommandResult]:
        COMMANDS[name] = Command(name, args, role, help, fn, button)
        return fn

    return register


@dataclass
class Context:
    """What a handler works with: who asked, the store to read from, the service that changes conversations, and the
    live knowledge base."""

    actor: Actor
    store: Store
    conversations: ConversationService
    kb: Any = None  # bot.kb_live.LiveKB when the drafter ranks knowledge-base articles (teaching needs it)

    @property
    def who(self) -> str:
        return self.actor.label


_ID = re.compile(r"^#?(\d{1,12})$")
_DRAFT_ID = re.compile(r"^#?d?(\d{1,12})$", re.I)  # drafts are written d4; #d4 and a plain 4 are taken too


def convert(arg: Arg, raw: Any) -> Any:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if arg.required:
            raise CommandError(f"Missing {arg.shown}.")
        return None
    if arg.kind in ("conversation", "draft", "int", "days"):
        text = str(raw).strip()
        m = (_DRAFT_ID if arg.kind == "draft" else _ID).match(text)
        if arg.kind == "conversation" and not m and _DRAFT_ID.match(text):
            raise CommandError(f"{text[:40]!r} is a draft; {arg.shown} is a conversation number such as 3.")
        if not m or int(m.group(1)) == 0:
            example = " such as d4" if arg.kind == "draft" else ""
            raise CommandError(f"{arg.shown} must be a number{example}, got {str(raw)[:40]!r}.")
        value = int(m.group(1))
        if arg.kind == "days" and not 1 <= value <= 366:
            raise CommandError("<days> must be between 1 and 366.")
        return value
    text = str(raw).strip()
    if arg.choices:
        if text.lower() not in arg.choices:
            raise CommandError(f"{arg.name} must be one of {', '.join(arg.choices)}; got {text[:40]!r}.")
        return text.lower()
    return text


def parse_line(cmd: Command, rest: str) -> dict[str, str]:
    values: dict[str, str] = {}
    remaining = rest.strip()
    for arg in cmd.args:
        if not remaining:
            break
        if arg.rest:
            values[arg.name] = remaining
            remaining = ""
            break
        token, _, remaining = remaining.partition(" ")
        values[arg.name] = token
        remaining = remaining.strip()
    if remaining:
        raise CommandError(f"Too many arguments: {remaining[:40]!r}.")
    return values


