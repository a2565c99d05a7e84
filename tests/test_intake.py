"""Whatever text a platform delivers is recorded and acknowledged: no poison event, no lost customer message.

A lone surrogate (JSON "\\ud83d", which Python decodes but SQLite's UTF-8 cannot store), a field of the wrong
type (a number where a string belongs) and an author discord.py cannot build all reach the real clients here:
signed Slack requests to the bolt app, gateway frames from the fake Discord. Each must come out as one
recorded event, a conversation and a draft; the inbox keeps the payload losslessly (JSON escapes).
"""
from __future__ import annotations

import json

import pytest

from tests.conftest import customer_message, start_core
from tests.discord_harness import Desk, until
from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.slack_client import CUSTOMER, SUPPORT, TEAM, SlackHarness

LONE = "hello \ud83d"  # what json.loads makes of "hello \ud83d"
REPLACED = "hello \ufffd"


def only_conversation(store):
    rows = list(store.db.query("SELECT * FROM conversations"))
    assert len(rows) == 1, rows
    return rows[0]


def customer_texts(store, conversation_id: int) -> list[str]:
    return [m["text"] for m in store.recent_messages(conversation_id) if m["author_kind"] == "customer"]


def assert_drafted(store, conversation_id: int) -> None:
    drafts = list(store.db.query("SELECT * FROM drafts WHERE conversation_id = ?", [conversation_id]))
    assert drafts, "no draft for the customer's message"


def assert_inbox_clean(store) -> None:
    errors = list(store.db.query("SELECT id, error FROM inbox WHERE status != 'done'"))
    assert not errors, errors


# ---- Slack ---------------------------------------------------------------------------------------------------
def slack_message(slack: SlackHarness, **fields) -> dict:
    ts = slack.new_ts()
    return {"type": "message", "channel": SUPPORT, "user": CUSTOMER, "ts": ts, "team": TEAM, "event_ts": ts,
            "channel_type": "channel", **fields}


async def test_slack_lone_surrogate_is_recorded_once_and_acknowledged(tmp_path):
    async with SlackHarness(tmp_path) as slack:
        event = slack_message(slack, text=LONE)
        for retry in (None, 1):  # Slack's redelivery must be a duplicate, not a second failure
            status, _ = await slack.event(event, event_id="EvLONE1", retry=retry)
            assert status == 200
        await slack.settle()
        store = slack.core.store
        inbox = list(store.db.query("SELECT * FROM inbox"))
        assert len(inbox) == 1
        assert json.loads(inbox[0]["payload"])["text"] == LONE, "the inbox must keep the text losslessly"
        assert_inbox_clean(store)
        conv = only_conversation(store)
        assert customer_texts(store, conv["id"]) == [REPLACED]
        assert_drafted(store, conv["id"])


@pytest.mark.parametrize("fields, expected", [
    ({"text": 42}, "42"),
    ({"text": {"type": "rich", "value": "help"}}, '{"type": "rich", "value": "help"}'),
    ({"text": "my card was charged twice", "user": 12345}, "my card was charged twice"),
], ids=["text-number", "text-object", "user-number"])
async def test_slack_fields_of_the_wrong_type_are_recorded(tmp_path, fields, expected):
    async with SlackHarness(tmp_path) as slack:
        status, _ = await slack.event(slack_message(slack, **fields))
        assert status == 200
        await slack.settle()
        store = slack.core.store
        assert_inbox_clean(store)
        conv = only_conversation(store)
        assert customer_texts(store, conv["id"]) == [expected]
        assert conv["customer_id"] == str(fields.get("user", CUSTOMER))
        assert_drafted(store, conv["id"])


# ---- Discord -------------------------------------------------------------------------------------------------
@pytest.fixture
async def fake():
    f = await FakeDiscord().start()
    yield f
    await f.stop()


@pytest.mark.parametrize("content, expected", [(LONE, REPLACED), (12345, "12345")], ids=["lone-surrogate", "number"])
async def test_discord_message_is_recorded_whatever_its_content(fake, tmp_path, content, expected):
    desk = await Desk(fake, str(tmp_path / "tandem.db")).start()
    try:
        await desk.send("MESSAGE_CREATE", desk.world.customer_message(desk.world.support_channel, content))
        await desk.idle()
        store = desk.core.store
        assert_inbox_clean(store)
        conv = only_conversation(store)
        assert customer_texts(store, conv["id"]) == [expected]
        assert_drafted(store, conv["id"])
    finally:
        await desk.stop()


async def test_discord_author_without_avatar_is_recorded(fake, tmp_path):
    desk = await Desk(fake, str(tmp_path / "tandem.db")).start()
    try:
        frame = desk.world.customer_message(desk.world.support_channel, "my refund is late")
        del frame["author"]["avatar"]
        await desk.send("MESSAGE_CREATE", frame)
        await desk.idle()
        store = desk.core.store
        conv = only_conversation(store)
        assert conv["customer_id"] == frame["author"]["id"]
        assert customer_texts(store, conv["id"]) == ["my refund is late"]
    finally:
        await desk.stop()


# ---- the processor -------------------------------------------------------------------------------------------
async def test_an_inbox_row_that_cannot_be_applied_is_marked_and_does_not_block_the_next(settings):
    core = await start_core(settings)
    try:
        await core.stop()  # record first, process later: the bad row is ahead of the good one
        store = core.store
        bad, _ = store.record_inbound("test", "ev-bad", "message", {"event_id": "ev-bad", "address": 7})
        good = await core.receive(customer_message("where is my order?"))
        await core.start()
        await until(lambda: store.count_inbox("pending") == 0, what="the inbox drained")
        await core.wait_idle()
        rows = {r["id"]: r for r in store.db.query("SELECT * FROM inbox")}
        assert rows[bad]["status"] == "error" and rows[bad]["error"], rows[bad]
        assert rows[good.inbox_id]["status"] == "done"
        conv = only_conversation(store)
        assert customer_texts(store, conv["id"]) == ["where is my order?"]
    finally:
        await core.stop()


async def test_a_bad_row_amid_a_turn_is_marked_and_the_rows_around_it_are_applied_once(settings):
    """Rows are applied several to a transaction; one that fails rolls its turn back, and the turn is applied
    again row by row: the bad row is marked, every other row is applied exactly once, in order."""
    core = await start_core(settings)
    try:
        await core.stop()  # record first, process later: all of these are pending together
        store = core.store
        before = [await core.receive(customer_message(f"question {i} about my order", who=f"c{i}")) for i in range(3)]
        bad, _ = store.record_inbound("test", "ev-bad-amid", "message", {"event_id": "ev-bad-amid", "address": 7})
        after = [await core.receive(customer_message(f"question {i} about my order", who=f"c{i}"))
                 for i in range(3, 6)]
        await core.start()
        await until(lambda: store.count_inbox("pending") == 0, what="the inbox drained")
        await core.wait_idle()
        rows = {r["id"]: r for r in store.db.query("SELECT * FROM inbox")}
        assert rows[bad]["status"] == "error" and rows[bad]["error"], rows[bad]
        assert all(rows[r.inbox_id]["status"] == "done" for r in before + after)
        convs = list(store.db.query("SELECT * FROM conversations ORDER BY id"))
        assert [c["customer_id"] for c in convs] == [f"U-c{i}" for i in range(6)]  # once each, in order
        for i, conv in enumerate(convs):
            assert customer_texts(store, conv["id"]) == [f"question {i} about my order"]
            assert len(list(store.db.query("SELECT id FROM drafts WHERE conversation_id = ?", [conv["id"]]))) == 1
    finally:
        await core.stop()
