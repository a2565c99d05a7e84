"""Status reactions on the customer's first message (👀 when recorded, ✅ when resolved), through the outbox:
the console, and the real Slack and Discord clients against their fakes."""
from __future__ import annotations

import logging

import pytest

from bot.emojis import name_of, unicode_of
from tests.conftest import make_settings, start_console
from tests.discord_harness import Desk, until
from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_client import SUPPORT, SlackHarness
from tests.test_sla_platforms import slash
from tandem.runtime import build_core

HUMAN = "I want to talk to a human please"


def test_a_setting_is_written_once_either_way():
    assert name_of("👀") == name_of(":eyes:") == name_of("eyes") == "eyes"
    assert name_of("✅") == "white_check_mark" and unicode_of("white_check_mark") == "✅"
    assert name_of("thumbsup::skin-tone-2") == "thumbsup"
    assert name_of("") == name_of("  ") == "" and unicode_of("") == ""


# ---- Slack -------------------------------------------------------------------------------------------------
async def test_slack_eyes_then_check_mark_and_a_restart_does_not_react_again(tmp_path):
    api = await FakeSlackAPI().start()
    try:
        async with SlackHarness(tmp_path, api=api) as h:
            ts = await h.say(HUMAN)
            await h.settle()
            assert api.reactions[(SUPPORT, ts)] == ["eyes"]
            await h.say("any news?", thread=ts)  # the same conversation
            await h.settle()
            assert len(api.called("reactions.add")) == 1  # the first message only
            await h.command("resolve 1")
            await h.settle()
            assert api.reactions[(SUPPORT, ts)] == ["white_check_mark"]
        async with SlackHarness(tmp_path, api=api) as h:  # the same database and Slack, a new process
            await h.settle()
        assert len(api.called("reactions.add", status=None)) == 2 and len(api.called("reactions.remove")) == 1
    finally:
        await api.stop()


@pytest.mark.parametrize("error", ["missing_scope", "message_not_found"])  # no permission; the message is deleted
async def test_slack_missing_scope_is_logged_once_and_not_retried(tmp_path, caplog, error):
    async with SlackHarness(tmp_path) as h:
        h.api.fail_next(1, status=200, error=error, method="reactions.add")
        with caplog.at_level(logging.ERROR):
            await h.say(HUMAN)
            await h.settle()
            await h.settle()
        assert len(h.api.called("reactions.add", status=None)) == 1
        failed = [r for r in caplog.records if error in r.getMessage() and r.levelno >= logging.ERROR]
        assert len(failed) == 1
        assert h.replies(channel=SUPPORT) or h.cards()  # the conversation itself goes on


async def test_slack_empty_settings_turn_reactions_off(tmp_path):
    async with SlackHarness(tmp_path, core={"tandem_reaction_seen": "", "tandem_reaction_resolved": ""}) as h:
        await h.say(HUMAN)
        await h.settle()
        await h.command("resolve 1")
        await h.settle()
        assert not h.api.called("reactions.add", status=None) and not h.api.called("reactions.remove", status=None)


async def test_slack_a_setting_given_as_unicode_reacts_by_name(tmp_path):
    async with SlackHarness(tmp_path, core={"tandem_reaction_seen": "🙏"}) as h:
        ts = await h.say(HUMAN)
        await h.settle()
        assert h.api.reactions[(SUPPORT, ts)] == ["pray"]


# ---- Discord -----------------------------------------------------------------------------------------------
@pytest.fixture
async def fake():
    f = await FakeDiscord().start()
    yield f
    await f.stop()


@pytest.mark.parametrize("status", [403, 404])  # Missing Permissions; Unknown Message (deleted)
async def test_discord_unknown_message_is_not_retried(fake, tmp_path, caplog, status):
    desk = await Desk(fake, str(tmp_path / "t.db")).start()
    w = desk.world
    try:
        fake.fail("PUT", r"/channels/\d+/messages/\d+/reactions/.+/@me", status=status)
        with caplog.at_level(logging.ERROR):
            await desk.send("MESSAGE_CREATE", w.customer_message(w.support_channel, HUMAN))
            await until(lambda: fake.find("PUT", r"/channels/\d+/messages/\d+/reactions/.+/@me"), what="the PUT")
            await desk.idle()
            await desk.idle()
        assert len(fake.find("PUT", r"/channels/\d+/messages/\d+/reactions/.+/@me")) == 1
        assert len([r for r in caplog.records if "cannot be delivered" in r.getMessage()]) == 1
    finally:
        await desk.stop()


async def test_discord_empty_settings_turn_reactions_off(fake, tmp_path):
    desk = await Desk(fake, str(tmp_path / "t.db"), tandem_reaction_seen="", tandem_reaction_resolved="").start()
    w = desk.world
    try:
        await desk.send("MESSAGE_CREATE", w.customer_message(w.support_channel, HUMAN))
        await slash(desk, w.agent, "resolve", {"conversation": 1})
        await desk.idle()
        assert desk.core.store.conversation(1).state == "resolved"
        assert not fake.find("PUT", r"/channels/\d+/messages/\d+/reactions/.+/@me") and not fake.reactions
    finally:
        await desk.stop()


# ---- a reopened conversation: 👀 comes back, ✅ again on the next resolve, never twice per transition -----------
AGAIN = "it broke again, I want to talk to a human"


async def test_console_seen_resolved_reopened_resolved_again(tmp_path):
    core = build_core(make_settings(tmp_path))
    console, out = await start_console(core)
    try:
        await console.handle_line("bob> " + HUMAN)
        await core.wait_idle()
        await console.handle_line("/resolve 1")
        await core.wait_idle()
        ref = core.store.first_customer_message_ref(1)
        await console.handle_line("bob> " + AGAIN)  # not a rating: the conversation reopens
        await core.wait_idle()
        assert core.store.conversation(1).state != "resolved"
        shown = [line.strip() for line in out.getvalue().splitlines() if line.strip().endswith(f"on {ref}")]
        assert shown == [f"+👀 on {ref}", f"−👀 on {ref}", f"+✅ on {ref}", f"−✅ on {ref}", f"+👀 on {ref}"]
        await console.handle_line("/resolve 1")
        await core.wait_idle()
        shown = [line.strip() for line in out.getvalue().splitlines() if line.strip().endswith(f"on {ref}")]
        assert shown[5:] == [f"−👀 on {ref}", f"+✅ on {ref}"]
    finally:
        await core.stop()


async def test_slack_reopen_and_resolve_again_each_transition_once_across_a_restart(tmp_path):
    api = await FakeSlackAPI().start()
    try:
        async with SlackHarness(tmp_path, api=api) as h:
            ts = await h.say(HUMAN)
            await h.settle()
            await h.command("resolve 1")
            await h.settle()
            assert api.reactions[(SUPPORT, ts)] == ["white_check_mark"]
            await h.say(AGAIN, thread=ts)  # the customer writes again: reopened
            await h.settle()
            assert api.reactions[(SUPPORT, ts)] == ["eyes"]
            await h.command("resolve 1")
            await h.settle()
            assert api.reactions[(SUPPORT, ts)] == ["white_check_mark"]
            await h.command("resolve 1")  # already resolved: nothing changes, nothing is queued
            await h.settle()
        async with SlackHarness(tmp_path, api=api) as h:  # the same database and Slack, a new process
            await h.settle()
        assert api.reactions[(SUPPORT, ts)] == ["white_check_mark"]
        assert len(api.called("reactions.add", status=None)) == 4  # 👀, ✅, 👀, ✅
        assert len(api.called("reactions.remove", status=None)) == 3  # 👀, ✅, 👀
    finally:
        await api.stop()


async def test_discord_eyes_check_mark_in_unicode_and_again_after_a_reopen_not_on_a_replay(fake, tmp_path):
    desk = await Desk(fake, str(tmp_path / "t.db")).start()
    w = desk.world
    try:
        message = w.customer_message(w.support_channel, HUMAN)
        await desk.send("MESSAGE_CREATE", message)
        key = (w.support_channel, message["id"])
        await slash(desk, w.agent, "resolve", {"conversation": 1})
        await until(lambda: fake.reactions.get(key) == ["✅"], what="✅ on resolve")
        again = w.customer_message(message["id"], AGAIN)  # inside the conversation's thread
        await desk.send("MESSAGE_CREATE", again)
        await until(lambda: fake.reactions.get(key) == ["👀"], what="👀 again on reopen")
        await desk.send("MESSAGE_CREATE", again, recorded=False)  # the gateway replays it
        await desk.idle()
        await slash(desk, w.agent, "resolve", {"conversation": 1})
        await until(lambda: fake.reactions.get(key) == ["✅"], what="✅ on the second resolve")
        await desk.idle()
        assert len(fake.find("PUT", r"/channels/\d+/messages/\d+/reactions/.+/@me")) == 4
        assert len(fake.find("DELETE", r"/channels/\d+/messages/\d+/reactions/.+/@me")) == 3
    finally:
        await desk.stop()
