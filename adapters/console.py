"""The console adapter: Tandem's embedded default, so anyone can try it with no accounts.

Plain lines are customer messages (`alice> text` speaks as another customer, each customer being one
conversation); lines starting with `/` are agent commands run as a lead (`/approve 3`). Review cards
are printed with their buttons degraded to the commands that do the same. When stdin is not a terminal
the lines are processed in order, each one to completion, and the adapter exits at end of input.
"""
from __future__ import annotations

import asyncio
import itertools
import re
import sys
import uuid
from typing import TextIO

from rich.console import Console

from bot.commands import card_buttons
from vocab import Actor, Address, CommandResult, Delivery, InboundMessage, PostReport, Role, SendMessage, UpsertCard

_SPEAKER = re.compile(r"^([\w.-]{1,32})>\s?(.*)$", re.DOTALL)
_STYLE = {"reply": "🤖 Tandem", "automated": "🤖 Tandem (automated)", "system": "ℹ️  Tandem", "agent": "👤 Agent"}

BANNER = """Tandem console. Type as a customer; `name> text` speaks as another customer.
Agent commands start with `/` (try /help, /queue). Ctrl-D quits."""


class ConsoleAdapter:
    platform = "console"

    def __init__(self, stdin: TextIO | None = None, out: Console | None = None, agent_name: str = "agent"):
        self.stdin = stdin or sys.stdin
        self.out = out or Console(highlight=False, markup=False, soft_wrap=True, emoji=False)
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
        loop = asyncio.get_running_loop()
        while True:
            if interactive:
                self.out.print("> ", end="")
            line = await loop.run_in_executor(None, self.stdin.readline)
            if not line:
                break
            await self.handle_line(line.rstrip("\n"))

    async def handle_line(self, line: str) -> CommandResult | None:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            return None  # blank lines and comments in scripts
        if stripped.startswith("/"):
            if self.echo:
                self.out.print(f"[agent {self.agent.name}] {stripped}")
            result = await self.core.execute(self.agent, stripped[1:])
            self._print_result(result)
            await self.core.wait_idle(timeout=120)
            return result
        m = _SPEAKER.match(stripped)
        name, text = (m.group(1), m.group(2)) if m else ("customer", line)
        customer = Actor("console", name, name, Role.CUSTOMER)
        if text.strip().startswith("/"):  # a customer trying an agent command
            if self.echo:
                self.out.print(f"[{name}] {text.strip()}")
            result = await self.core.execute(customer, text.strip()[1:])
            self._print_result(result)
            return result
        if self.echo:
            self.out.print(f"[{name}] {text}")
        event = InboundMessage(
            event_id=f"console-{uuid.uuid4()}",
            address=Address("console", channel=name, is_dm=True),
            author=customer,
            text=text,
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
        return Delivery(ref=f"console-{next(self._refs)}", channel="console")

    def _print_card(self, action: UpsertCard) -> None:
        card = action.card
        verb = "updated" if action.ref else "new"
        lines = [f"  ┌ card #{card.conversation_id} ({verb}) · {card.customer} · {card.state_label}"]
        if card.latest_message:
            lines.append(f"  │ {card.customer}: {card.latest_message}")
        if card.draft_id:
            lines.append(f"  │ draft #{card.draft_id} ({(card.confidence or 0):.0%}): {card.draft_text}")
            if card.sources:
                lines.append("  │ sources: " + ", ".join(s.title for s in card.sources[:3]))
        if card.assignee:
            lines.append(f"  │ assigned to {card.assignee}")
        buttons = [button.typed for button in card_buttons(card)]
        lines.append("  └ " + (" · ".join(buttons) if buttons else "no actions"))
        self.out.print("\n".join(lines))
