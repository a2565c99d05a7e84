"""Discord translation checked on recorded payloads, parsed by discord.py itself rather than built to fit our code.

Every file under tests/fixtures/payloads/discord/ is one gateway dispatch frame ({"op": 0, "t": ..., "d": ...})
taken from the discord-api-docs examples, serenity's recorded gateway payloads or discord.py's tests (see each
file's source/license/notes and tests/fixtures/payloads/README.md), with ids adapted to the fake guild's support
channels, staff channel and roles. Each file is one test: the frame is dispatched through the fake gateway
(tests/fakes/discord_fake.py) to the real DiscordAdapter, so discord.py's ConnectionState parses it and the
adapter translates the resulting objects.

* Messages, edits and deletes: the core is not started, so what the adapter recorded stays in the inbox and is
  compared with `expect` (the InboundMessage fields), or nothing is recorded and the stated reason is logged.
* Interactions: the core runs, a customer message has created conversation #1 with draft #1, and the test reads
  what the core did (audit events, messages, the ephemeral answer) or that the call was refused.
* `"given"` names fixture files dispatched first (a thread must exist before a message in it).
* `"ignored": "no listener"` marks events the adapter has no handler for: nothing recorded, nothing answered.

A case that shows a translation bug is marked xfail(strict) below, with the file name and the reason.
"""
from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from tests.discord_harness import Desk, until
from tests.fakes.discord_fake import FakeDiscord
from tests.payload_cases import PAYLOADS, REQUIRED, cases, load

FIXTURES = PAYLOADS / "discord"
QUESTION = "What happens if I pay late?"
ROLES = {0: "customer", 1: "agent", 2: "lead"}
AUDITED = ("approve", "edit", "reject", "takeover", "handback", "reply", "note", "assign", "resolve", "mode")
OUTCOMES = ("command_refused", "command_unknown", "command_error")
ID_COLUMNS = {"draft": "draft_id", "conversation": "conversation_id"}
CALLBACK = r"/interactions/\d+/[^/]+/callback"

XFAIL = {
    "message_create_reply_docs": (
        "a reply (type 19) in the support channel to a message that started a conversation is given a new "
        "conversation keyed by the reply's own id, instead of the referenced message's conversation"),
}



def test_inventory():
    files = sorted(FIXTURES.glob("*.json"))
    assert len(files) >= 40, f"only {len(files)} Discord payload files"
    for path in files:
        data = load(path)
        missing = [key for key in REQUIRED if not data.get(key)]
        assert not missing, f"{path.name} lacks {missing}"
        assert data["payload"].get("op") == 0 and data["payload"].get("t"), f"{path.name} is not a dispatch frame"
        for name in data.get("given", []):
            assert (FIXTURES / f"{name}.json").is_file(), f"{path.name} needs missing {name}"
    assert set(XFAIL) <= {p.stem for p in files}, "an xfail names a file that does not exist"


@pytest.fixture
async def fake():
    f = await FakeDiscord().start()
    yield f
    await f.stop()


@pytest.mark.parametrize("path", cases(FIXTURES, XFAIL))
async def test_payload(path: Path, fake: FakeDiscord, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="adapters")  # the adapter states why it skips at debug
    data = load(path)
    frame, expect = data["payload"], data["expect"]
    interaction = frame["t"] == "INTERACTION_CREATE"
    desk = Desk(fake, str(tmp_path / "tandem.db"))
    try:
        if interaction:
            await desk.start()
            await desk.send("MESSAGE_CREATE", desk.world.customer_message(desk.world.support_channel, QUESTION))
            await until(lambda: desk.core.store.pending_draft(1), what="draft #1 from the seed message")
        else:
            await desk.connect()  # the core stays stopped: recorded events wait in the inbox
        for name in data.get("given", []):
            await replay(desk, load(FIXTURES / f"{name}.json"))
        inbox_before = len(desk.core.store.pending_inbox())
        caplog.clear()
        await fake.dispatch(frame["t"], frame["d"])
        if interaction:
            await check_interaction(desk, expect, caplog)
        else:
            await check_event(desk, expect, inbox_before, caplog)
    finally:
        await desk.stop()


async def replay(desk: Desk, given: dict) -> None:
    """Dispatch a prerequisite frame and wait until it has landed (recorded, or the thread is in the cache)."""
    frame, store = given["payload"], desk.core.store
    before = len(store.pending_inbox())
    await desk.fake.dispatch(frame["t"], frame["d"])
    if "ignored" not in given["expect"]:
        await until(lambda: len(store.pending_inbox()) > before, what=f"the given {frame['t']} recorded")
    elif frame["t"] == "THREAD_CREATE":
        await until(lambda: desk.adapter.client.get_channel(int(frame["d"]["id"])), what="the given thread")


# ---- messages, edits, deletes ---------------------------------------------------------------------------
async def check_event(desk: Desk, expect: dict, before: int, caplog) -> None:
    store = desk.core.store
    if "ignored" in expect:
        await wait_for_reason(expect["ignored"], caplog)
        assert len(store.pending_inbox()) == before, "an ignored event was recorded"
        return
    rows = await until(lambda: store.pending_inbox()[before:], what="the event recorded in the inbox")
    assert len(rows) == 1, f"expected one inbox row, got {len(rows)}"
    assert fields(json.loads(rows[0]["payload"]), expect) == expect
    assert not errors(caplog), errors(caplog)


def fields(recorded: dict, expect: dict) -> dict:
    """The recorded InboundMessage as the expect block spells it, limited to the keys the file states."""
    author = recorded["author"]
    seen = dict(recorded, author={"user_id": author["user_id"], "role": ROLES[author["role"]]})
    return {key: seen[key] for key in expect}


async def wait_for_reason(reason: str, caplog, timeout: float = 1.0) -> None:
    """The stated reason must be a log line (not just a traceback); an error line is allowed only if it is the one
    stating the reason (the parser guard's). Events without a listener state none, so just let them land."""
    if reason == "no listener":
        await asyncio.sleep(0.1)
    else:
        await until(lambda: any(reason in line(r) for r in caplog.records), timeout=timeout,
                    what=f"the reason {reason!r} in the log")
    unexpected = [e for e in errors(caplog) if reason not in e]
    assert not unexpected, unexpected


def line(record: logging.LogRecord) -> str:
    """A log line with its exception's message (discord.py states CommandNotFound that way), not the traceback."""
    exc = record.exc_info[1] if record.exc_info else None
    return record.getMessage() + (f" [{type(exc).__name__}: {exc}]" if exc else "")


def errors(caplog) -> list[str]:
    return [line(r) for r in caplog.records if r.levelno >= logging.ERROR]


# ---- interactions -------------------------------------------------------------------------------------
async def check_interaction(desk: Desk, expect: dict, caplog) -> None:
    store, fake = desk.core.store, desk.fake
    if "ignored" in expect:
        await wait_for_reason(expect["ignored"], caplog)
        await desk.idle()
        assert not fake.find("POST", CALLBACK), "an ignored interaction was answered"
        assert not any(store.events_named(name) for name in AUDITED + OUTCOMES), "the core was called"
        return
    if "modal" in expect:
        calls = await fake.wait_for("POST", CALLBACK)
        assert calls[-1].json["type"] == 9 and calls[-1].json["data"]["custom_id"] == expect["modal"]
        assert not store.events_named("edit")
        return
    await fake.wait_for("POST", r"/webhooks/\d+/[^/]+")  # the ephemeral answer: the core call is done
    await desk.idle()
    if "refused" in expect:
        rows = [r for r in store.events_named("command_refused")
                if json.loads(r["details"]).get("command") == expect["refused"]]
        assert rows and rows[-1]["actor"] == expect["actor"], store.events_named("command_refused")
        assert store.draft(1).status == "pending", "a refused call must change nothing"
        return
    name, args = expect["command"], expect["args"]
    if name in AUDITED:
        rows = store.events_named(name)
        assert rows, f"no {name} event: the core did not run it"
        row, details = rows[-1], json.loads(rows[-1]["details"])
        assert row["actor"] == expect["actor"]
        for arg, value in args.items():
            if arg in ID_COLUMNS:
                assert row[ID_COLUMNS[arg]] == value, (arg, dict(row))
            elif arg in details:
                assert details[arg] == value, (arg, details)
            else:
                sent = [m["text"] for m in store.recent_messages(row["conversation_id"])]
                assert value in sent, f"{arg}={value!r} not among {sent}"
    if "answer" in expect:
        answers = [c.json.get("content", "") for c in fake.find("POST", r"/webhooks/\d+/[^/]+")]
        assert any(expect["answer"] in a for a in answers), answers
    assert not any(store.events_named(o) for o in OUTCOMES), "the call was refused or failed"
    assert not errors(caplog), errors(caplog)
