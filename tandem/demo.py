"""`tandem demo`: a scripted afternoon at the help desk, played through the real core and console adapter.

Several conversations show every path: answered as drafted, edited, escalated on request, taken over
and handed back, a saved reply in the customer's language, a sensitive topic, a customer trying an agent
command, and resolutions with ratings (one first tried as 10/10).
Draft and conversation ids are looked up as the scenario runs, never assumed.
"""
from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from rich.console import Console

from adapters.console import ConsoleAdapter
from bot.config import Settings
from tandem.runtime import build_core

SCENARIO: list[tuple[str, str]] = [
    ("say", "alice> Hi! How does paying in 4 instalments work?"),
    ("approve", "alice"),
    ("say", "budi> Can I move my payment due date to the end of the month?"),
    ("edit", "budi"),
    ("say", "carol> I want to talk to a real person please"),
    ("agent", "/takeover {conv:carol}"),
    ("agent", "/reply {conv:carol} Hi Carol, I'm here. What can I do for you?"),
    ("say", "carol> I was charged twice for the same order"),
    ("agent", "/note {conv:carol} Duplicate charge, checked the ledger: second one is a pending hold."),
    ("agent", "/reply {conv:carol} The second charge is a pending hold that drops off within 3 days."),
    ("agent", "/handback {conv:carol}"),
    ("say", "carol> Thanks! And what happens if I pay late?"),
    ("approve", "carol"),
    ("agent", "/resolve {conv:carol}"),
    ("say", "carol> 10/10"),
    ("say", "carol> 5"),
    ("say", "dewi> Saya mau bicara dengan orang, bukan bot"),
    ("agent", "/assign {conv:dewi} agent"),
    ("agent", "/snippet greeting {conv:dewi}"),
    ("agent", "/resolve {conv:dewi}"),
    ("say", "dewi> 4"),
    ("say", "erik> There is a charge on my card I don't recognise, I think it's fraud"),
    ("say", "erik> /approve d1"),
    ("agent", "/queue"),
    ("agent", "/resolve {conv:alice}"),
    ("say", "alice> 5"),
    ("agent", "/resolve {conv:budi}"),
]

EDITED = "You can move your due date once per order in the app under Payments > Change date. I've checked: you're eligible."


async def run_demo(settings: Settings, db_path: str | None = None, out: Console | None = None) -> dict:
    out = out or Console(highlight=False, markup=False, soft_wrap=True, emoji=False)
    path = db_path or str(Path(tempfile.mkdtemp(prefix="tandem-demo-")) / "demo.db")
    settings = settings.model_copy(update={"tandem_db": path, "tandem_support_hours": "24/7"})
    core = build_core(settings)
    console = ConsoleAdapter(out=out, agent_name="sari")
    await core.start()
    core.register(console)
    await console.start(core)
    store = core.store
    out.print(f"Tandem demo: a scripted help desk, database {path}\n")

    def conv_of(name: str):
        return store.latest_conversation_at(_address(name))

    def fill(template: str) -> str:
        for name in ("alice", "budi", "carol", "dewi", "erik"):
            conv = conv_of(name)
            template = template.replace(f"{{conv:{name}}}", str(conv.id) if conv else "0")
        return template

    try:
        for step, arg in SCENARIO:
            if step == "say":
                await console.handle_line(arg)
            elif step == "agent":
                await console.handle_line(fill(arg))
            else:  # approve / edit the customer's pending draft, or answer yourself when there is none
                conv = conv_of(arg)
                draft = store.pending_draft(conv.id)
                if draft and step == "approve":
                    line = f"/approve d{draft.id}"
                elif draft:
                    line = f"/edit d{draft.id} {EDITED}"
                else:
                    line = f"/reply {conv.id} Let me check that for you and come back in a minute."
                await console.handle_line(line)
        summary = summarize(store)
    finally:
        await core.stop()
    out.print("\nSummary")
    for key, value in summary.items():
        out.print(f"  {key}: {value}")
    return summary


def _address(name: str):
    from vocab import Address

    return Address("console", channel=name, is_dm=True)


def summarize(store) -> dict:
    rows = list(store.export_conversations())
    drafts = Counter(d["status"] for c in rows for d in c["drafts"])
    handoffs = Counter(a["details"].get("reason") for c in rows for a in c["actions"] if a["action"] == "handoff")
    ratings = [r for c in rows for r in c["ratings"]]
    return {
        "conversations": len(rows),
        "states": dict(Counter(c["state"] for c in rows)),
        "drafts": dict(drafts),
        "handoffs": dict(handoffs),
        "ratings": ratings,
        "refused commands": len(store.events_named("command_refused")),
    }
