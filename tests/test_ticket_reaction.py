"""The ticket reaction: an agent's 🎫 on a message in any channel the bot is in opens a conversation for it,
its author the customer, as if written in a support channel. Driven through the real slack-bolt and discord.py
clients against the fakes (`reaction_added`, MESSAGE_REACTION_ADD)."""
from __future__ import annotations

import pytest

from tests.discord_harness import Desk, card_of, until
from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.slack_client import AGENT, CUSTOMER, SlackHarness
from tests.test_discord_flows import desk, fake  # noqa: F401 (the fake Discord and a desk on it, as fixtures)
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
    opened = slack.core.store.db.execute("SELECT actor, conversation_id FROM events WHERE action = 'ticket'").fetchall()
    assert [tuple(r) for r in opened] == [(AGENT, conv.id)], "the audit says who opened it"
    history = slack.api.called("conversations.history")
    assert history and history[-1].params.get("latest") == ts


async def test_slack_connect_a_guest_from_another_workspace_becomes_the_customer(slack):
    """A shared (Slack Connect) channel: the author belongs to another workspace; an agent's 🎫 opens the
    conversation in ours with the guest as the customer, and the guest's own 🎫 does nothing."""
    ts = slack.written(QUESTION, user="UGUEST1", channel=GENERAL)
    slack.api.messages[GENERAL][-1].update(team="T0PARTNER", user_team="T0PARTNER")
    await slack.react(ts, channel=GENERAL, user="UGUEST1")  # the guest reacting: a customer, nothing happens
    await slack.settle()
    assert count_conversations(slack.core) == 0
    await slack.react(ts, channel=GENERAL)
    await slack.settle()
    conv = conversation_of(slack.core, Address("slack", GENERAL, ts, slack.adapter.identity.team_id))
    assert conv is not None and conv.customer_id == "UGUEST1" and conv.workspace == slack.adapter.identity.team_id
    assert len(slack.cards()) == 1
    await slack.command(f"reply {conv.id} Hello from the support team.")
    await slack.settle()
    assert slack.replies(thread=ts, channel=GENERAL)[-1].endswith("Hello from the support team.")


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


# ---- Discord -----------------------------------------------------------------------------------------------
def posted_in_general(fake: FakeDiscord, content: str = QUESTION) -> dict:
    """A customer's message in a channel Tandem does not serve (it saw it, and did nothing)."""
    w = fake.world
    message = w.customer_message(w.other_channel, content)
    fake.messages[message["id"]] = message
    return message


def cards(fake: FakeDiscord) -> list[dict]:
    return [m for m in fake.messages.values() if m["channel_id"] == fake.world.agent_channel and m["embeds"]]


async def test_discord_an_agents_ticket_opens_a_conversation_with_the_author_as_customer(desk, fake):
    w = fake.world
    message = posted_in_general(fake)
    await desk.send("MESSAGE_REACTION_ADD", w.reaction(w.agent, message))
    await until(lambda: cards(fake), what="a review card")
    conv = conversation_of(desk.core, Address("discord", w.other_channel, message["id"], w.guild_id))
    assert conv is not None and conv.customer_id == w.customer.id
    assert fake.find("GET", rf"/channels/{w.other_channel}/messages/{message['id']}$")
    assert "Conversation #1" in card_of(fake)["embeds"][0]["title"]


async def test_discord_the_same_ticket_twice_opens_one_conversation(desk, fake):
    w = fake.world
    message = posted_in_general(fake)
    await desk.send("MESSAGE_REACTION_ADD", w.reaction(w.agent, message))
    await until(lambda: cards(fake), what="a review card")
    await desk.send("MESSAGE_REACTION_ADD", w.reaction(w.agent, message), recorded=False)  # again: a duplicate
    await desk.send("MESSAGE_REACTION_ADD", w.reaction(w.lead, message))  # another agent: a known message
    await desk.idle()
    assert count_conversations(desk.core) == 1 and len(cards(fake)) == 1


async def test_discord_a_customers_ticket_or_another_emoji_does_nothing(desk, fake):
    w = fake.world
    message = posted_in_general(fake)
    await desk.send("MESSAGE_REACTION_ADD", w.reaction(w.customer, message))  # recorded; the core says no
    await desk.send("MESSAGE_REACTION_ADD", w.reaction(w.agent, message, "👍"), recorded=False)
    await desk.idle()
    assert count_conversations(desk.core) == 0 and not cards(fake)
    await desk.send("MESSAGE_REACTION_ADD", w.reaction(w.agent, message))  # an agent's after the customer's
    await until(lambda: count_conversations(desk.core) == 1, what="the agent's ticket")


async def test_discord_an_empty_setting_turns_the_ticket_off(fake, tmp_path):
    desk = await Desk(fake, str(tmp_path / "t.db"), tandem_ticket_emoji="").start()
    w = fake.world
    try:
        message = posted_in_general(fake)
        await desk.send("MESSAGE_REACTION_ADD", w.reaction(w.agent, message), recorded=False)
        await desk.idle()
        assert count_conversations(desk.core) == 0
        assert not fake.find("GET", rf"/channels/{w.other_channel}/messages/{message['id']}$")
    finally:
        await desk.stop()
