"""End to end on Slack: real bolt + slack_sdk against the fake Web API, signed requests to the running adapter."""
from __future__ import annotations

import pytest

from tests.fakes.slack_client import AGENT, AGENTS, CUSTOMER, SUPPORT, SlackHarness

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
