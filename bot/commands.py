"""Agent commands, declared once: name, arguments, who may run them, and the handler.

Every adapter exposes this same registry (Slack `/tandem`, Discord app commands and buttons, console `/`
lines), and every call passes through `invoke`, which checks the permission here in the core, converts
and validates arguments, runs the handler in one transaction, and logs refusals and mistakes.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vocab import Actor, CommandResult, Role

if TYPE_CHECKING:
    from bot.core import Core

log = logging.getLogger(__name__)


class CommandError(Exception):
    """A command cannot be carried out; the message is shown to the agent as it is."""


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
class Command:
    name: str
    args: tuple[Arg, ...]
    role: Role
    help: str
    handler: Callable[..., CommandResult]

    @property
    def usage(self) -> str:
        return " ".join([self.name, *(a.shown for a in self.args)])


COMMANDS: dict[str, Command] = {}


def command(name: str, *args: Arg, role: Role = Role.AGENT, help: str = ""):
    def register(fn: Callable[..., CommandResult]) -> Callable[..., CommandResult]:
        COMMANDS[name] = Command(name, args, role, help, fn)
        return fn

    return register


@dataclass
class Context:
    core: "Core"
    actor: Actor

    @property
    def store(self):
        return self.core.store

    @property
    def who(self) -> str:
        return self.actor.label

    def log(self, action: str, **details: Any) -> None:
        self.store.log_event(self.actor.label, action, actor_role=self.actor.role.name.lower(), **details)


_ID = re.compile(r"^#?(\d{1,12})$")


def convert(arg: Arg, raw: Any) -> Any:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if arg.required:
            raise CommandError(f"Missing {arg.shown}.")
        return None
    if arg.kind in ("conversation", "draft", "int", "days"):
        m = _ID.match(str(raw).strip())
        if not m or int(m.group(1)) == 0:
            raise CommandError(f"{arg.shown} must be a number, got {str(raw)[:40]!r}.")
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


def invoke(core: "Core", actor: Actor, name: str, args: dict[str, Any]) -> CommandResult:
    store = core.store
    name = (name or "").strip().lower()
    cmd = COMMANDS.get(name)
    role = actor.role.name.lower()
    if cmd is None:
        store.log_event(actor.label, "command_unknown", actor_role=role, command=name[:80])
        if actor.role < Role.AGENT:
            return CommandResult(_CUSTOMER_REFUSAL, ok=False)
        return CommandResult(f"Unknown command `{name[:40]}`. Try `help` to see what you can do.", ok=False)
    if actor.role < cmd.role:
        store.log_event(actor.label, "command_refused", actor_role=role, command=name, args=args)
        log.warning("refused %s from %s (%s, %s)", name, actor.label, actor.platform, role)
        if actor.role < Role.AGENT:
            return CommandResult(_CUSTOMER_REFUSAL, ok=False)
        return CommandResult(f"`{name}` is for {cmd.role.name.lower()}s only; nothing was changed.", ok=False)
    try:
        values = {a.name: convert(a, args.get(a.name)) for a in cmd.args}
        with store.atomic():
            return cmd.handler(Context(core, actor), **values)
    except CommandError as exc:
        store.log_event(actor.label, "command_error", actor_role=role, command=name, error=str(exc))
        return CommandResult(f"{exc}\nUsage: `{cmd.usage}`" if "Usage" not in str(exc) else str(exc), ok=False)


def execute_line(core: "Core", actor: Actor, line: str) -> CommandResult:
    """Run a typed command line such as `approve 3` or `/tandem edit 3 New text`."""
    from bot.core import clean_text

    text = clean_text(line).lstrip("/")
    if text.lower().startswith("tandem"):
        text = text[len("tandem"):].strip()
    if not text:
        text = "help"
    name, _, rest = text.partition(" ")
    cmd = COMMANDS.get(name.lower())
    if cmd is None or actor.role < cmd.role:
        return invoke(core, actor, name, {})
    try:
        args = parse_line(cmd, rest)
    except CommandError as exc:
        core.store.log_event(actor.label, "command_error", actor_role=actor.role.name.lower(), command=name,
                             error=str(exc))
        return CommandResult(f"{exc}\nUsage: `{cmd.usage}`", ok=False)
    return invoke(core, actor, name, args)


_CUSTOMER_REFUSAL = (
    "Sorry, Tandem commands are only for the support team, so nothing was done. "
    "Just write your question here, or write *human* to reach a person."
)

from bot import desk  # noqa: E402,F401  (registers the commands)
