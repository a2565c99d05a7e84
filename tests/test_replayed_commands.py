"""A replayed agent command, click or form submission is executed once.

Slack may redeliver, and anyone holding a signed body can post it again within the 5-minute signature window;
Discord's gateway may replay an INTERACTION_CREATE. Each delivery (Slack trigger_id, Discord interaction id) is
recorded in SQLite with the command's effect, so a repeat, even after a restart, is acknowledged and does nothing.
"""
from __future__ import annotations

import pytest

from tests.conftest import AGENT as AGENT_ACTOR, conv_of, say, start_core
from tests.discord_harness import Desk
from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.slack_client import AGENT, FORM, SlackHarness
from tests.test_discord_flows import ask, buttons, card_of, conv_address, posts_in

QUESTION = "Can I change my payment due date?"


@pytest.fixture
async def slack(tmp_path):
    async with SlackHarness(tmp_path) as harness:
        yield harness


async def _conversation(slack) -> tuple[str, int]:
    ts = await slack.say(QUESTION)
    await slack.settle()
    conv = slack.core.store.latest_conversation_at(slack.core.store.conversation(1).address)
    return ts, conv.id


async def test_same_signed_slash_command_ten_times_replies_once(slack):
    ts, conv = await _conversation(slack)
    reply = slack.command_body(f"reply {conv} Hi, Ann here: moved it to the 14th.")
    note = slack.command_body(f"note {conv} customer asked twice")
    for _ in range(10):
        assert (await slack.post(reply, FORM))[0] == 200
        assert (await slack.post(note, FORM))[0] == 200
    await slack.settle()
    sent = [t for t in slack.replies(thread=ts) if "moved it to the 14th" in t]
    assert len(sent) == 1, sent
    notes = [m for m in slack.core.store.recent_messages(conv, limit=100) if m["author_kind"] == "note"]
    assert len(notes) == 1
    answers = slack.answers(AGENT)
    assert sum("Sent to" in a for a in answers) == 1
    assert sum("Note added" in a for a in answers) == 1
    assert all("Sent to" in a or "Note added" in a or "Already done" in a for a in answers), answers


async def test_same_button_click_twice_approves_once(slack):
    ts, _ = await _conversation(slack)
    click = slack.press_body(slack.buttons(slack.latest_card_blocks())["approve"])
    for _ in range(2):
        assert (await slack.post(click, FORM))[0] == 200
        await slack.settle()
    assert len(slack.replies(thread=ts)) == 1
    assert len(slack.core.store.events_named("approve")) == 1
    assert not slack.core.store.events_named("command_error"), "the repeat is not run (and refused) again"
    first, second = slack.answers(AGENT)
    assert "approved" in first and "Already done" in second


async def test_same_edit_submission_twice_edits_once(slack):
    ts, _ = await _conversation(slack)
    await slack.press(slack.buttons(slack.latest_card_blocks())["edit"])
    view = (await slack.api.wait_for("views.open")).params["view"]
    submission = slack.edit_body(view, "Yes: Payments > Change date, up to 14 days.")
    for _ in range(2):
        status, body = await slack.post(submission, FORM)
        assert (status, body) == (200, ""), "the repeat closes the form too, without an error"
        await slack.settle()
    assert slack.replies(thread=ts) == ["Yes: Payments > Change date, up to 14 days."]
    assert len(slack.core.store.events_named("edit")) == 1


async def test_a_delivery_key_survives_a_restart(tmp_path):
    async with SlackHarness(tmp_path) as slack:
        ts, conv = await _conversation(slack)
        reply = slack.command_body(f"reply {conv} Sorted, see you soon.")
        await slack.post(reply, FORM)
        await slack.settle()
    async with SlackHarness(tmp_path) as again:  # same database file, new process state
        await again.post(reply, FORM)
        await again.settle()
        assert not [t for t in again.replies(thread=ts) if "Sorted" in t]
        assert len(again.core.store.recent_messages(conv, limit=100)) == len(
            slack.core.store.recent_messages(conv, limit=100)), "nothing new in the conversation"


@pytest.fixture
async def fake():
    f = await FakeDiscord().start()
    yield f
    await f.stop()


async def test_discord_interaction_replayed_runs_once_even_after_a_restart(fake, tmp_path):
    desk = await Desk(fake, str(tmp_path / "tandem.db")).start()
    try:
        w = desk.world
        msg = await ask(desk)
        conv = desk.core.store.latest_conversation_at(conv_address(w, msg))
        interaction = w.slash(w.agent, "reply", {"conversation": conv.id, "text": "Ana here, it is refunded."})
        await fake.dispatch("INTERACTION_CREATE", interaction)
        await fake.wait_for("POST", r"/webhooks/\d+/[^/]+")
        await desk.idle()
        await fake.dispatch("INTERACTION_CREATE", interaction)  # a gateway replay in the same session
        await desk.idle()
        await desk.restart_adapter()  # the in-memory memory of interactions is gone
        await fake.dispatch("INTERACTION_CREATE", interaction)
        await fake.wait_for("POST", r"/interactions/\d+/[^/]+/callback", count=2)
        await desk.idle()
        assert posts_in(fake, msg["id"]).count("Ana here, it is refunded.") == 1
        click = w.button(w.lead, buttons(card_of(fake))["Resolve"], card_of(fake))
        for _ in range(2):
            await fake.dispatch("INTERACTION_CREATE", click)
            await desk.idle()
        assert len(desk.core.store.events_named("resolve")) == 1
    finally:
        await desk.stop()


async def test_delivery_keys_are_kept_a_day_then_forgotten(settings, clock):
    core = await start_core(settings, clock)
    await say(core, "hello")
    conv = conv_of(core)
    first = await core.execute(AGENT_ACTOR, f"note {conv.id} called the courier", delivery="slack:T:1")
    again = await core.execute(AGENT_ACTOR, f"note {conv.id} called the courier", delivery="slack:T:1")
    assert first.ok and "Note added" in first.text
    assert again.ok and again.data.get("duplicate") and "Already done" in again.text
    await core.stop()
    clock.advance(days=2)
    later = await start_core(settings, clock)  # a process started two days later prunes the old keys
    try:
        result = await later.execute(AGENT_ACTOR, f"note {conv.id} called the courier", delivery="slack:T:2")
        assert "Note added" in result.text
        assert later.store._one("SELECT count(*) AS n FROM deliveries")["n"] == 1, "slack:T:1 was forgotten"
    finally:
        await later.stop()
