"""The ticket reaction: an agent's 🎫 on a message in any channel the bot is in opens a conversation for it,
its author the customer, as if written in a support channel. Driven through the real slack-bolt and discord.py
clients against the fakes (`reaction_added`, MESSAGE_REACTION_ADD)."""
from __future__ import annotations

import pytest

from tests.fakes.slack_client import AGENT, CUSTOMER, SlackHarness
from vocab import Address

QUESTION = "Can I change my payment due date?"
GENERAL = "CGENERAL1"


def conversation_of(core, address: Address):
    return core.store.latest_conversation_at(address)


def count_conversations(core) -> int:
    return core.store.db.execute("SELECT COUNT(*) FROM conversations").fetchone()[0]


# ---- Slack -------------------------------------------------------------------------------------------------
@pytest.fixture
async def slack(tmp_path):
    async with SlackHarness(tmp_path) as harness:
        yield harness


async def test_slack_an_agents_ticket_opens_a_conversation_with_the_author_as_customer(slack):
    ts = slack.written(QUESTION, channel=GENERAL)
    status, _ = await slack.react(ts, channel=GENERAL)
    assert status == 200
    await slack.settle()
    conv = conversation_of(slack.core, Address("slack", GENERAL, ts, slack.adapter.identity.team_id))
    assert conv is not None and conv.customer_id == CUSTOMER
    assert len(slack.cards()) == 1, "a draft and its card, as for any customer message"
    history = slack.api.called("conversations.history")
    assert history and history[-1].params.get("latest") == ts


async def test_slack_a_thread_reply_is_read_from_its_thread(slack):
    parent = slack.written("hello all", user=AGENT, channel=GENERAL)
    ts = slack.written(QUESTION, channel=GENERAL, thread=parent)
    await slack.react(ts, channel=GENERAL)
    await slack.settle()
    conv = conversation_of(slack.core, Address("slack", GENERAL, parent, slack.adapter.identity.team_id))
    assert conv is not None and conv.customer_id == CUSTOMER
    assert slack.api.called("conversations.replies")


async def test_slack_the_same_ticket_twice_opens_one_conversation(slack):
    ts = slack.written(QUESTION, channel=GENERAL)
    await slack.react(ts, channel=GENERAL)
    await slack.settle()
    await slack.react(ts, channel=GENERAL)  # removed and added again: a new event, the same message
    await slack.react(ts, channel=GENERAL, user="ULEAD1")  # another agent
    await slack.settle()
    assert count_conversations(slack.core) == 1 and len(slack.cards()) == 1


@pytest.mark.parametrize("who, reaction", [(CUSTOMER, "ticket"), (AGENT, "eyes")])
async def test_slack_a_customers_ticket_or_another_emoji_does_nothing(slack, who, reaction):
    ts = slack.written(QUESTION, channel=GENERAL)
    status, _ = await slack.react(ts, channel=GENERAL, user=who, reaction=reaction)
    assert status == 200
    await slack.settle()
    assert count_conversations(slack.core) == 0 and not slack.cards()
    if who == CUSTOMER:  # a customer's reaction first does not stop an agent's after it
        await slack.react(ts, channel=GENERAL)
        await slack.settle()
        assert count_conversations(slack.core) == 1


async def test_slack_an_empty_setting_turns_the_ticket_off(tmp_path):
    async with SlackHarness(tmp_path, core={"tandem_ticket_emoji": ""}) as h:
        ts = h.written(QUESTION, channel=GENERAL)
        await h.react(ts, channel=GENERAL)
        await h.settle()
        assert count_conversations(h.core) == 0 and not h.api.called("conversations.history")
