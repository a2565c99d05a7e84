"""The embedded default end to end: `tandem run` with a scenario piped in, `demo`, `ask`, `export`, `db migrate`,
and clear start-up errors. Each runs the real CLI in a subprocess, as a user would."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bot.config import ConfigError, Settings, load_settings
from tests.conftest import FIXTURE_KB

REPO = FIXTURE_KB.parents[2]

SCENARIO = """\
How does pay in 4 work?
/approve 1
bob> I want to talk to a real person
/queue
/takeover 2
/reply 2 Hi Bob, Ana here.
bob> thanks, my order never arrived
bob> /approve 1
/note 2 checked the courier
/resolve 2
bob> 5
/frobnicate
/approve 99
"""


def tandem(*args: str, stdin: str = "", env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("TANDEM_", "OPENAI_", "SLACK_", "DISCORD_"))}
    full_env["PYTHONPATH"] = str(REPO)  # this checkout's code, whatever is installed
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "tandem.cli", *args], input=stdin, capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=120)


def test_piped_scenario_runs_in_order_and_exits_at_end_of_input(tmp_path):
    db = tmp_path / "console.db"
    env = {"TANDEM_DB": str(db), "TANDEM_KB": str(FIXTURE_KB), "TANDEM_SUPPORT_HOURS": "24/7"}
    result = tandem("run", stdin=SCENARIO, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    order = [
        "[customer] How does pay in 4 work?",
        "draft d1",
        "✓ Draft d1 approved and sent to customer (conversation #1).",
        "→ to customer: 🤖 Tandem: Pay in 4 splits your purchase",
        "[bob] I want to talk to a real person",
        "→ to bob: ℹ️  Tandem: Of course. I've asked a person",
        "✓ 1 conversation(s) need a person",
        "✓ You own #2 now.",
        "→ to bob: 👤 Agent: Hi Bob, Ana here.",
        "✗ Sorry, Tandem commands are only for the support team",
        "✓ Note added to #2",
        "→ to bob: ℹ️  Tandem: This conversation is now resolved.",
        "→ to bob: ℹ️  Tandem: Thank you for rating us 5/5.",
        "✗ Unknown command `frobnicate`",
        "✗ There is no draft d99.",
    ]
    position = 0
    for expected in order:
        found = out.find(expected, position)
        assert found >= 0, f"missing or out of order: {expected!r}\n---\n{out}"
        position = found
    assert "checked the courier" not in out.split("✓ Note added")[0].split("[agent agent] /note")[0][-200:]
    exported = tandem("export", env=env, cwd=tmp_path)
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [r["state"] for r in rows] == ["bot", "resolved"]
    bob = rows[1]
    assert bob["ratings"] == [5]
    assert [m["author_kind"] for m in bob["messages"]] == ["customer", "system", "system", "agent", "customer",
                                                           "note", "system", "customer", "system"]
    assert {a["action"] for a in bob["actions"]} >= {"handoff", "takeover", "reply", "note", "resolve", "rating"}
    refused = [e for r in rows for e in r["actions"] if e["action"] == "command_refused"]
    assert refused == []  # refusals of customers are not tied to a conversation ...
    db_events = tandem("export", env=env, cwd=tmp_path)  # ... but they are in the log:
    import sqlite3

    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM events WHERE action = 'command_refused'").fetchone()[0] == 1
    assert db_events.returncode == 0


def test_demo_plays_every_path_and_summarises(tmp_path):
    result = tandem("demo", env={"TANDEM_KB": str(FIXTURE_KB)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = result.stdout.split("Summary")[-1]
    assert "conversations: 5" in summary
    assert "'approved'" in summary and "'edited'" in summary
    assert "asked_for_human" in summary and "sensitive_topic" in summary
    assert "ratings: [5, 5, 4]" in summary and "refused commands: 1" in summary


def test_ask_prints_answer_sources_confidence_and_decision(tmp_path):
    result = tandem("ask", "What happens if I pay late?", "--json", env={"TANDEM_KB": str(FIXTURE_KB)}, cwd=tmp_path)
    report = json.loads(result.stdout)
    assert report["decision"] == "review" and report["sources"][0]["id"] == "late-payment"
    assert 0 <= report["confidence"] <= 1 and "late fee" in report["answer"]
    handoff = json.loads(tandem("ask", "manusia", "--json", env={"TANDEM_KB": str(FIXTURE_KB)}, cwd=tmp_path).stdout)
    assert handoff["decision"] == "handoff" and handoff["reason"] == "asked_for_human"


def test_db_migrate_creates_and_reports(tmp_path):
    env = {"TANDEM_DB": str(tmp_path / "m.db")}
    first = tandem("db", "migrate", env=env, cwd=tmp_path)
    assert first.returncode == 0 and "applied 1 migration(s)" in first.stdout or "applied" in first.stdout
    second = tandem("db", "migrate", env=env, cwd=tmp_path)
    assert "applied 0 migration(s)" in second.stdout


def test_bad_settings_stop_start_up_with_one_line_naming_the_variable(tmp_path):
    cases = {
        "TANDEM_MODE": ("fast", "TANDEM_MODE: Input should be 'review', 'auto' or 'off' (got 'fast')"),
        "TANDEM_AUTO_THRESHOLD": ("1.5", "TANDEM_AUTO_THRESHOLD: Input should be less than or equal to 1"),
        "TANDEM_KB": ("/nope", "TANDEM_KB: must be an existing folder of *.md articles"),
        "TANDEM_SUPPORT_HOURS": ("whenever", "TANDEM_SUPPORT_HOURS: must look like 'Mon-Fri 09:00-17:00'"),
        "TANDEM_TIMEZONE": ("Mars/Base", "TANDEM_TIMEZONE: must be an IANA time zone"),
        "OPENAI_BASE_URL": ("localhost:11434", "OPENAI_BASE_URL: must be an http:// or https:// URL"),
        "TANDEM_LLM_TIMEOUT": ("0", "TANDEM_LLM_TIMEOUT: Input should be greater than 0"),
    }
    for var, (value, message) in cases.items():
        with pytest.raises(ConfigError) as caught:
            load_settings(Settings, env_file=None, **{var.lower(): value})
        assert message in str(caught.value) and "\n" not in str(caught.value)
    result = tandem("run", env={"TANDEM_MODE": "fast"}, cwd=tmp_path)  # and as the user sees it:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0 and len(lines) == 1 and cases["TANDEM_MODE"][1] in lines[0]


def test_env_file_is_read(tmp_path):
    (tmp_path / ".env").write_text("TANDEM_MODE=sometimes\n")
    result = tandem("run", cwd=tmp_path)
    assert "TANDEM_MODE" in result.stderr and result.returncode != 0


async def test_mode_alone_shows_the_current_mode(tmp_path):
    import io

    from rich.console import Console

    from adapters.console import ConsoleAdapter
    from tandem.runtime import build_core
    from tests.conftest import make_settings

    core = build_core(make_settings(tmp_path))
    console = ConsoleAdapter(stdin=io.StringIO(""), out=Console(file=io.StringIO(), color_system=None),
                             agent_name="ana")
    core.register(console)
    await console.start(core)
    await core.start()
    try:
        shown = await console.handle_line("/mode")
        assert shown.ok and shown.text.startswith("Mode is ") and shown.data["mode"] == core.conversations.mode.value
    finally:
        await core.stop()


async def test_console_resolve_confirmation_ratings_mode_and_ids(tmp_path):
    """The smaller things agents trip over, through the console adapter: a card names conversation #1 and draft
    d1; resolving over a waiting draft asks to confirm, then says what was discarded; only 1-5 is a rating and a
    try at one is told how; `mode` alone says the mode."""
    from tests.conftest import make_settings, start_console
    from tandem.runtime import build_core

    core = build_core(make_settings(tmp_path))
    console, out = await start_console(core)
    try:
        await console.handle_line("bob> How does pay in 4 work?")
        await core.wait_idle()
        assert "conversation #1 (" in out.getvalue() and "draft d1 (" in out.getvalue()
        asked = await console.handle_line("/resolve 1")
        assert not asked.ok and "draft d1 waits for review" in asked.text and "`resolve 1 confirm`" in asked.text
        assert core.store.conversation(1).state != "resolved"
        done = await console.handle_line("/resolve 1 confirm")
        assert done.ok and "Draft d1 was discarded unsent" in done.text
        for attempt in ("7", "10/10"):
            before = len(out.getvalue())
            await console.handle_line(f"bob> {attempt}")
            await core.wait_idle()
            assert "reply with just one number from 1" in " ".join(out.getvalue()[before:].split())
        assert core.store.conversation(1).state == "resolved" and core.store.ratings_for(1) == []
        await console.handle_line("bob> 4")
        await core.wait_idle()
        assert core.store.ratings_for(1) == [4] and "Thank you for rating us 4/5." in out.getvalue()
        assert (await console.handle_line("/mode")).text == "Mode is review (from TANDEM_MODE)."
        shown = await console.handle_line("/show d1")
        assert not shown.ok and "is a draft" in shown.text
    finally:
        await core.stop()


async def test_a_narrow_terminal_never_cuts_a_cards_commands_off(settings, clock):
    """On an 80-column terminal the review card's commands do not fit its bottom line: those that do not are
    listed inside the card, so every command stays readable."""
    import io

    from rich.console import Console

    from adapters.console import ConsoleAdapter
    from tandem.runtime import build_core

    core = build_core(settings, clock=clock)
    out = io.StringIO()
    console = ConsoleAdapter(stdin=io.StringIO(""), out=Console(file=out, width=80, color_system=None))
    core.register(console)
    await console.start(core)
    await core.start()
    try:
        await console.handle_line("How does pay in 4 work?")
        await core.wait_idle()
    finally:
        await console.stop()
        await core.stop()
    text = out.getvalue()
    draft = core.store.draft(1)
    for command in (f"/approve d{draft.id}", f"/edit d{draft.id} <text>", f"/reject d{draft.id} [reason]",
                    f"/takeover {draft.conversation_id}", f"/snippet <name> {draft.conversation_id}"):
        assert command in text, command
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "also: " in text
