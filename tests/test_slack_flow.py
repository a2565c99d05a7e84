"""End to end on Slack: real bolt + slack_sdk against the fake Web API, signed requests to the running adapter."""
from __future__ import annotations

import asyncio
import time

import pytest

from bot.drafting.base import DraftResult

from tests.fakes.slack_client import AGENT, CUSTOMER, LEAD, SUPPORT, SlackHarness

QUESTION = "Can I change my payment due date?"


@pytest.fixture
async def slack(tmp_path):
    async with SlackHarness(tmp_path) as harness:
        yield harness


async def test_customer_message_card_approve_reply_in_thread(slack):
    ts = await slack.say(QUESTION)
    await slack.settle()
    assert len(slack.cards()) == 1
    buttons = slack.buttons(slack.latest_card_blocks())
    assert set(buttons) >= {"approve", "edit", "reject", "takeover"}
    status, _ = await slack.press(buttons["approve"])
    assert status == 200
    await slack.settle()
    replies = slack.replies(thread=ts)
    assert len(replies) == 1 and "14 days" in replies[0]
    assert slack.api.called("chat.update"), "the card is updated in place"
    assert len(slack.cards()) == 1, "never reposted"
    assert slack.answers(AGENT)


async def _card_buttons(slack, question: str = QUESTION, **kw) -> tuple[str, dict[str, str]]:
    ts = await slack.say(question, **kw)
    await slack.settle()
    return ts, slack.buttons(slack.latest_card_blocks())


async def test_edit_opens_prefilled_modal_and_sends_the_edited_text(slack):
    ts, buttons = await _card_buttons(slack)
    await slack.press(buttons["edit"])
    opened = await slack.api.wait_for("views.open")
    view = opened.params["view"]
    draft_id = int(buttons["edit"].rsplit(":", 1)[1])
    text_box = next(b for b in view["blocks"] if b["type"] == "input")
    assert text_box["element"]["initial_value"] == slack.core.store.draft(draft_id).text
    status, body = await slack.submit_edit(view, "Yes: Payments > Change date, up to 14 days.")
    assert status == 200 and body == ""
    await slack.settle()
    assert slack.replies(thread=ts) == ["Yes: Payments > Change date, up to 14 days."]
    assert slack.core.store.draft(draft_id).status == "edited"


async def test_takeover_stops_drafts_agent_messages_logged_then_handback(slack):
    ts, buttons = await _card_buttons(slack)
    await slack.press(buttons["takeover"])
    await slack.settle()
    assert any("<@UAGENT1>" in text for text in slack.replies(thread=ts)), "the customer is told who joined"
    assert "handback" in slack.buttons(slack.latest_card_blocks())
    drafts_before = slack.core.store._one("select count(*) n from drafts")["n"]
    await slack.say("Hi, Ann here, I moved it for you.", user=AGENT, thread=ts)
    await slack.say("Thanks! And can I change my payment due date again?", thread=ts)
    await slack.settle()
    conv_id = int(buttons["takeover"].rsplit(":", 1)[1])
    kinds = [m["author_kind"] for m in slack.core.store.recent_messages(conv_id)]
    assert "agent" in kinds
    assert slack.core.store._one("select count(*) n from drafts")["n"] == drafts_before, "no draft while a human owns it"
    replies_before = len(slack.replies(thread=ts))
    await slack.press(slack.buttons(slack.latest_card_blocks())["handback"])
    await slack.settle()
    assert len(slack.replies(thread=ts)) == replies_before + 1  # the customer hears the bot is back
    await slack.say("How do I reschedule my instalment?", thread=ts)
    await slack.settle()
    assert "approve" in slack.buttons(slack.latest_card_blocks()), "drafting again after hand back"


async def test_resolve_asks_for_a_rating(slack):
    ts, buttons = await _card_buttons(slack)
    await slack.press(buttons["takeover"])
    await slack.settle()
    await slack.press(slack.buttons(slack.latest_card_blocks())["resolve"])
    await slack.settle()
    assert "1" in slack.replies(thread=ts)[-1] and "5" in slack.replies(thread=ts)[-1]
    assert slack.core.store.events_named("resolve")


async def test_redelivered_event_is_acted_on_once(slack):
    event = {"type": "message", "channel": SUPPORT, "user": CUSTOMER, "text": QUESTION, "ts": "1700009999.000100",
             "channel_type": "channel"}
    assert (await slack.event(event, event_id="EvSAME"))[0] == 200
    assert (await slack.event(event, event_id="EvSAME", retry=1))[0] == 200
    await slack.settle()
    assert (await slack.event(event, event_id="EvSAME", retry=2))[0] == 200
    await slack.settle()
    assert slack.core.store._one("select count(*) n from messages where author_kind='customer'")["n"] == 1
    assert slack.core.store._one("select count(*) n from drafts")["n"] == 1
    assert len(slack.cards()) == 1


async def test_non_agent_pressing_approve_is_refused_and_logged(slack):
    ts, buttons = await _card_buttons(slack)
    status, _ = await slack.press(buttons["approve"], user="USTRANGER1")
    assert status == 200
    await slack.settle()
    assert slack.replies(thread=ts) == []
    assert "only for the support team" in slack.answers("USTRANGER1")[0]
    assert slack.core.store.events_named("command_refused")
    await slack.press(buttons["edit"], user="USTRANGER1")
    await slack.settle()
    assert not slack.api.called("views.open"), "a non-agent never sees the draft in a modal"


async def test_rate_limited_then_delivered(slack):
    ts, buttons = await _card_buttons(slack)
    slack.api.fail_next(1, status=429, retry_after=0, method="chat.postMessage")
    await slack.press(buttons["approve"])
    await slack.settle()
    assert len(slack.replies(thread=ts)) == 1
    assert slack.api.called("chat.postMessage", status=429)


async def test_server_errors_then_delivered(slack):
    ts, buttons = await _card_buttons(slack)
    slack.api.fail_next(1, status=500, method="chat.postMessage")
    await slack.press(buttons["approve"])
    await slack.settle()
    assert len(slack.replies(thread=ts)) == 1


async def test_asking_for_a_person_gets_an_immediate_answer(slack):
    ts = await slack.say("Can I talk to a human please?")
    await slack.settle()
    assert len(slack.replies(thread=ts)) == 1
    assert slack.core.store.events_named("handoff")


async def test_direct_message_is_one_conversation_answered_in_the_dm(slack):
    await slack.say(QUESTION, channel="DCUST1")
    await slack.settle()
    await slack.press(slack.buttons(slack.latest_card_blocks())["approve"])
    await slack.settle()
    sent = [c.params for c in slack.api.called("chat.postMessage") if c.params.get("channel") == "DCUST1"]
    assert len(sent) == 1 and "thread_ts" not in sent[0]


async def test_slash_commands_answer_ephemerally(slack):
    await slack.say(QUESTION)
    await slack.settle()
    status, _ = await slack.command("queue")
    assert status == 200
    await slack.adapter.idle()
    assert "#1" in slack.answers(AGENT)[-1]
    await slack.command("")
    await slack.adapter.idle()
    assert "approve" in slack.answers(AGENT)[-1]
    await slack.command("resolve 1", user="USTRANGER1")
    await slack.adapter.idle()
    assert "only for the support team" in slack.answers("USTRANGER1")[-1]
    assert slack.core.store.conversation(1).state == "bot"


class SlowDrafter:
    """Holds every draft until released: acknowledgements must not wait for it."""

    name = "slow"

    def __init__(self):
        self.release = asyncio.Event()

    async def draft(self, request):
        await self.release.wait()
        return DraftResult("You can move it once by up to 14 days.", 0.8, drafter="slow")


async def test_acknowledged_fast_while_the_drafter_is_busy(tmp_path):
    drafter = SlowDrafter()
    async with SlackHarness(tmp_path, drafter=drafter) as slack:
        for i in range(5):
            started = time.monotonic()
            await slack.say(f"{QUESTION} ({i})", channel=SUPPORT)
            assert time.monotonic() - started < 1.0
        started = time.monotonic()
        status, _ = await slack.command("queue")
        assert status == 200 and time.monotonic() - started < 1.0
        assert slack.core.store._one("select count(*) n from inbox")["n"] == 5, "recorded before the ack"
        drafter.release.set()
        await slack.settle()
        assert len(slack.cards()) == 5


async def test_card_picker_sends_a_saved_reply_with_placeholders_and_takes_over(slack):
    ts, _ = await _card_buttons(slack)
    blocks = slack.latest_card_blocks()
    assert "*Draft d1*" in blocks[3]["text"]["text"] and "Conversation #1" in blocks[0]["text"]["text"]
    [menu] = slack.menus(blocks)
    assert menu["action_id"] == "tandem:snippet-to:1" and menu["confirm"]["confirm"]["text"] == "Send"
    assert {"greeting", "closing"} <= {o["value"] for o in menu["options"]}
    status, _ = await slack.select(menu, "greeting")
    assert status == 200
    await slack.settle()
    reply = slack.replies(thread=ts)[-1]
    assert reply.startswith(f"Hi {CUSTOMER}, this is ") and "{agent}" not in reply and AGENT in slack.raw_replies(
        thread=ts)[-1]
    conv = slack.core.store.conversation(1)
    assert conv.state == "human" and conv.assignee == AGENT
    assert '"snippet": "greeting"' in slack.core.store.events_named("reply")[-1]["details"]
    assert any("Saved reply `greeting` sent" in a for a in slack.answers(AGENT))
    again = slack.select_body(menu, "greeting")  # Slack posting the same choice again: sent once
    assert (await slack.post(again, "application/x-www-form-urlencoded"))[0] == 200
    assert (await slack.post(again, "application/x-www-form-urlencoded"))[0] == 200
    await slack.settle()
    assert sum(r.startswith(f"Hi {CUSTOMER}, this is ") for r in slack.replies(thread=ts)) == 2


async def test_edit_modal_picker_fills_the_text_box_and_send_sends_the_edit(slack):
    ts, buttons = await _card_buttons(slack)
    await slack.press(buttons["edit"])
    view = (await slack.api.wait_for("views.open")).params["view"]
    view = dict(view, id="V0042", hash="h1")
    [menu] = slack.menus(view["blocks"])
    assert menu["action_id"] == "tandem:snippet-fill:1" and "confirm" not in menu  # filling sends nothing
    await slack.select(menu, "looking-into-it", view=view)
    updated = (await slack.api.wait_for("views.update")).params
    assert updated["view_id"] == "V0042" and updated["hash"] == "h1"
    new_view = updated["view"]
    text_box = next(b for b in new_view["blocks"] if b["type"] == "input")
    assert text_box["block_id"].startswith("draft:looking-into-it:")  # a new block id shows the new text
    filled = text_box["element"]["initial_value"]
    assert filled.startswith(f"Thanks, {CUSTOMER}. I'm looking into this now") and "reference #1" in filled
    assert slack.core.store.draft(1).status == "pending" and not slack.replies(thread=ts)
    status, body = await slack.submit_edit(dict(new_view, id="V0042"), filled + " Back within the hour.")
    assert status == 200 and body == ""
    await slack.settle()
    assert slack.replies(thread=ts) == [filled + " Back within the hour."]
    assert slack.core.store.draft(1).status == "edited"


async def test_resolve_and_mode_and_draft_ids_through_the_slash_command(slack):
    ts, _ = await _card_buttons(slack)
    await slack.command("resolve 1")
    await slack.settle()
    assert "draft d1 waits for review" in slack.answers(AGENT)[-1] and "`resolve 1 confirm`" in slack.answers(AGENT)[-1]
    assert slack.core.store.conversation(1).state != "resolved"
    await slack.command("resolve 1 confirm")
    await slack.settle()
    assert "Draft d1 was discarded unsent" in slack.answers(AGENT)[-1]
    assert "1 (poor) to 5 (great)" in slack.replies(thread=ts)[-1]
    await slack.say("10/10", thread=ts)
    await slack.settle()
    assert "reply with just one number from 1" in slack.replies(thread=ts)[-1]
    assert slack.core.store.conversation(1).state == "resolved"
    await slack.command("mode", user=LEAD)
    await slack.settle()
    assert slack.answers(LEAD)[-1] == "Mode is review (from TANDEM_MODE)."
    await slack.command("snippet greetng 1")
    await slack.settle()
    assert "Closest: `greeting`" in slack.answers(AGENT)[-1]
