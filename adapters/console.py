"""The console adapter: Tandem's embedded default, so anyone can try it with no accounts.

Plain lines are customer messages (`alice> text` speaks as another customer, each customer being one
conversation); lines starting with `/` are agent commands run as a lead (`/approve 3`). Review cards
are printed with their buttons degraded to the commands that do the same. When stdin is not a terminal
the lines are processed in order, each one to completion, and the adapter exits at end of input.

Cards are rich panels, so a multi-line draft stays inside its frame and the draft's Markdown is rendered
(bold, lists); off a terminal rich drops the styling and the transcript is plain, stable text at a fixed
width. Input is read from the raw file descriptor in a daemon thread, so Ctrl-C at the prompt ends the
run at once (no thread left blocked in a buffered read to wait for or to hold a lock at exit). Echoed
input shows control characters escaped (`\\x1b`), as the core already strips them from what cards show.
"""
from __future__ import annotations

import asyncio
import codecs
import itertools
import os
import re
import sys
import threading
import unicodedata
import uuid
from typing import TextIO

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group
from rich.markdown import Markdown
from rich.panel import Panel
from rich.text import Text

from bot import emojis
from bot.commands import card_buttons
from vocab import (
    Actor,
    Address,
    CommandResult,
    Delivery,
    InboundMessage,
    NotifyAgents,
    PostReport,
    React,
    Role,
    SendMessage,
    UpsertCard,
)

_SPEAKER = re.compile(r"^([\w.-]{1,32})>\s?(.*)$", re.DOTALL)
_STYLE = {"reply": "🤖 Tandem", "automated": "🤖 Tandem (automated)", "system": "ℹ️  Tandem", "agent": "👤 Agent"}

BANNER = """Tandem console. Type as a customer; `name> text` speaks as another customer.
Agent commands start with `/` (try /help, /queue). Ctrl-D or Ctrl-C quits."""
PIPED_WIDTH = 100  # transcripts off a terminal are laid out at this width, whatever COLUMNS says
CARD_WIDTH = 100  # cards never grow wider than this on a wide terminal


def visible(text: str) -> str:
    """`text` with control characters (other than tab) shown as escapes, e.g. ESC as `\\x1b`."""
    return "".join(f"\\x{ord(c):02x}" if unicodedata.category(c) == "Cc" and c != "\t" else c for c in text)


def default_console() -> Console:
    piped = not sys.stdout.isatty()
    return Console(highlight=False, markup=False, soft_wrap=True, emoji=False,
                   width=PIPED_WIDTH if piped else None)


def fitting(commands: list[str], room: int) -> tuple[list[str], list[str]]:
    """The commands that fit in `room` cells of the card's bottom line, joined by " · ", and the rest."""
    used = 0
    for i, command in enumerate(commands):
        used += cell_len(command) + (3 if i else 0)
        if used > room:
            return commands[:i], commands[i:]
    return commands, []


class ConsoleAdapter:
    platform = "console"

    def __init__(self, stdin: TextIO | None = None, out: Console | None = None, agent_name: str = "agent"):
        self.stdin = stdin or sys.stdin
        self.out = out or default_console()
        self.agent = Actor("console", "console-agent", agent_name, Role.LEAD)
        self.core = None
        self._refs = itertools.count(1)
        self.echo = True  # print each input line (off when a person is typing them)

    async def start(self, core) -> None:
        self.core = core

    async def stop(self) -> None:
        return None

    # ---- input -------------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Read lines until end of input, handling each to completion before the next."""
        interactive = self.stdin.isatty()
        self.echo = not interactive
        if interactive:
            self.out.print(BANNER)
        lines = self._reader()
        while True:
            if interactive:
                self.out.print("> ", end="")
            line = await lines.get()
            if line is None:
                break
            await self.handle_line(line.rstrip("\r\n"))

    def _reader(self) -> asyncio.Queue:
        """A queue of input lines, None at end of input, filled by a daemon thread.

        The thread reads the descriptor with os.read (no buffered reader, so no lock held at interpreter exit);
        a stream without a descriptor (a StringIO in tests) is read with readline."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        try:
            fd = self.stdin.fileno()
        except (AttributeError, OSError, ValueError):
            fd = None

        def put(item) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def read() -> None:
            try:
                if fd is None:
                    for line in iter(self.stdin.readline, ""):
                        put(line)
                    return
                decoder, pending = codecs.getincrementaldecoder("utf-8")(errors="replace"), ""
                while chunk := os.read(fd, 65536):
                    pending += decoder.decode(chunk)
                    *complete, pending = pending.split("\n")
                    for line in complete:
                        put(line)
                pending += decoder.decode(b"", final=True)
                if pending:
                    put(pending)
            except (OSError, RuntimeError):  # descriptor closed, or the loop is gone (we are exiting)
                pass
            finally:
                try:
                    put(None)
                except RuntimeError:
                    pass

        threading.Thread(target=read, name="console-input", daemon=True).start()
        return queue

    async def handle_line(self, line: str) -> CommandResult | None:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            return None  # blank lines and comments in scripts
        if stripped.startswith("/"):
            if self.echo:
                self.out.print(f"[agent {self.agent.name}] {visible(stripped)}")
            result = await self.core.execute(self.agent, stripped[1:])
            self._print_result(result)
            await self.core.wait_idle(timeout=120)
            return result
        m = _SPEAKER.match(stripped)
        name, text = (m.group(1), m.group(2)) if m else ("customer", line)
        customer = Actor("console", name, name, Role.CUSTOMER)
        if text.strip().startswith("/"):  # a customer trying an agent command
            if self.echo:
                self.out.print(f"[{name}] {visible(text.strip())}")
            result = await self.core.execute(customer, text.strip()[1:])
            self._print_result(result)
            return result
        if self.echo:
            self.out.print(f"[{name}] {visible(text)}")
        line = uuid.uuid4().hex[:8]
        event = InboundMessage(
            event_id=f"console-{line}",
            address=Address("console", channel=name, is_dm=True),
            author=customer,
            text=text,
            message_id=f"line-{line}",  # what a status reaction is shown on
        )
        await self.core.receive(event)
        await self.core.wait_idle(timeout=120)
        return None

    def _print_result(self, result: CommandResult) -> None:
        mark = "✓" if result.ok else "✗"
        for i, text in enumerate(result.text.splitlines() or [""]):
            self.out.print(f"  {mark if i == 0 else ' '} {text}")

    # ---- output ------------------------------------------------------------------------------------------
    async def deliver(self, action) -> Delivery:
        if isinstance(action, SendMessage):
            who = _STYLE.get(action.style, "Tandem")
            self.out.print(f"  → to {action.address.channel}: {who}: {action.text}")
        elif isinstance(action, UpsertCard):
            self._print_card(action)
            return Delivery(ref=action.ref or f"card-{next(self._refs)}", channel="console")
        elif isinstance(action, PostReport):
            self.out.print(f"  ▣ {action.title}\n  {action.summary}")
            for label, value in action.fields:
                self.out.print(f"    {label}: {value}")
            for heading, body in action.sections:
                self.out.print(f"    {heading}\n      " + body.replace("\n", "\n      "))
            if action.image_path:
                self.out.print(f"    chart: {action.image_path}")
        elif isinstance(action, React):  # a terminal cannot react: say what would be shown
            self.out.print(f"  {'−' if action.remove else '+'}{emojis.unicode_of(action.emoji)} on {action.message_ref}")
        elif isinstance(action, NotifyAgents):
            who = " ".join(f"@{name or user_id}" for user_id, name in action.mentions)
            self.out.print(f"  🔔 {who + ': ' if who else ''}{action.text}")
        return Delivery(ref=f"console-{next(self._refs)}", channel="console")

    def _print_card(self, action: UpsertCard) -> None:
        card = action.card
        verb = "updated" if action.ref else "new"
        parts: list = []
        if card.latest_message:
            parts.append(Text(f"{card.customer}: {card.latest_message}"))
        if card.draft_id:
            parts.append(Text(f"draft d{card.draft_id} ({(card.confidence or 0):.0%}):"))
            parts.append(Markdown(card.draft_text or ""))
            if card.sources:
                parts.append(Text("sources: " + ", ".join(s.title for s in card.sources[:3]), style="dim"))
        if card.assignee:
            parts.append(Text(f"assigned to {card.assignee}"))
        if card.due:
            parts.append(Text(f"⏱ {card.due}"))
        buttons = [button.typed for button in card_buttons(card)]
        if card.snippets:  # the saved-reply picker, as the console types it
            buttons.append(f"/snippet <name> {card.conversation_id}")
        width = min(self.out.width, CARD_WIDTH)
        title = f"conversation #{card.conversation_id} ({verb}) · {card.customer} · {card.state_label}"
        if cell_len(title) > width - 6 and " · " in card.state_label:  # the frame would cut the label's note off
            state, note = card.state_label.split(" · ", 1)
            title = f"conversation #{card.conversation_id} ({verb}) · {card.customer} · {state}"
            parts.append(Text(note))
        footer, rest = fitting(buttons, width - 6)
        if rest:  # the frame would cut the rest off: they go inside, under the card
            parts.append(Text("also: " + " · ".join(rest), style="dim"))
        self.out.print(Panel(
            Group(*parts) if parts else Text(""),
            title=Text(title),
            title_align="left",
            subtitle=Text(" · ".join(footer) if footer else "no actions"),
            subtitle_align="left",
            box=box.ROUNDED,
            width=width,
        ), soft_wrap=False)  # wrap inside the frame
