"""Workspace scoping: a conversation belongs to an address (platform and workspace or guild), events from a
workspace Tandem is not installed for are ignored, and an agent acts only on conversations of the platform and
workspace they are an agent of. Driven through the real slack-bolt app against the fake Slack Web API."""
from __future__ import annotations

import logging

import pytest

from vocab import Actor, Address, Role, State
from tests.fakes.slack_client import AGENT, CUSTOMER, SUPPORT, TEAM, SlackHarness

OTHER_TEAM = "T0OTHER"


@pytest.fixture
async def slack(tmp_path):
    async with SlackHarness(tmp_path) as harness:
        yield harness


def _conversations(slack) -> list:
    return [c for c in slack.core.store.export_conversations()]


async def test_an_event_from_a_workspace_tandem_is_not_installed_for_is_ignored(slack, caplog):
    caplog.set_level(logging.INFO)
    ts = slack.new_ts()
    event = {"type": "message", "channel": SUPPORT, "user": "U0INTRUDER", "text": "Where is my refund?",
             "ts": ts, "team": OTHER_TEAM, "channel_type": "channel"}
    status, _ = await slack.event(event, team=OTHER_TEAM)
    await slack.settle()
    assert status == 200
    assert _conversations(slack) == []
    assert any(OTHER_TEAM in r.getMessage() and "not installed" in r.getMessage() for r in caplog.records)


async def test_a_slack_connect_customer_in_a_support_channel_stays_our_workspaces_customer(slack):
    """In a shared channel the envelope may name the sender's workspace; the installation says it is ours."""
    ts = slack.new_ts()
    event = {"type": "message", "channel": SUPPORT, "user": AGENT, "text": "How does pay in 4 work?", "ts": ts,
             "team": OTHER_TEAM, "user_team": OTHER_TEAM, "channel_type": "channel"}
    envelope_team = OTHER_TEAM
    import json
    import time

    body = {"token": "legacy", "team_id": envelope_team, "context_team_id": envelope_team, "api_app_id": "A0TANDEM",
            "event": event, "type": "event_callback", "event_id": "EvConnect1", "event_time": int(time.time()),
            "is_ext_shared_channel": True,
            "authorizations": [{"team_id": TEAM, "user_id": "UBOT", "is_bot": True}]}
    status, _ = await slack.post(json.dumps(body))
    await slack.settle()
    assert status == 200
    [conv] = _conversations(slack)
    assert conv["workspace"] == TEAM and conv["customer_id"] == AGENT  # an outsider with a listed id: a customer
    assert conv["state"] == State.BOT


async def test_an_agent_acts_only_on_conversations_of_their_platform_and_workspace(slack):
    await slack.say("How does pay in 4 work?", user=CUSTOMER)
    await slack.settle()
    ours = slack.core.store.latest_conversation_at(
        Address("slack", SUPPORT, _conversations(slack)[0]["thread"], TEAM))
    service = slack.core.conversations
    on_discord = service.open(Address("discord", "111", "222", "G0GUILD"), Actor("discord", "333", "dan"), "en")
    elsewhere = service.open(Address("slack", "C0ELSE", "1.1", OTHER_TEAM), Actor("slack", "U0X", "xena"), "en")
    for conv in (on_discord, elsewhere):
        for line in (f"reply {conv.id} We refunded you", f"takeover {conv.id}", f"show {conv.id}",
                     f"note {conv.id} hi", f"resolve {conv.id}"):
            await slack.command(line, user=AGENT)
    await slack.settle()
    for conv in (on_discord, elsewhere):
        after = slack.core.store.conversation(conv.id)
        assert after.state == State.BOT and after.assignee is None
        messages = slack.core.store.recent_messages(conv.id)
        assert messages == [], "nothing was sent or noted into another workspace's conversation"
    refusals = [e for e in slack.core.store.events_named("command_refused") if '"workspace"' in e["details"]]
    assert len(refusals) == 10
    answers = slack.answers()
    assert sum("not in your workspace" in a for a in answers) == 10
    # and the agent's own workspace still works
    await slack.command(f"takeover {ours.id}", user=AGENT)
    await slack.settle()
    assert slack.core.store.conversation(ours.id).state == State.HUMAN


async def test_the_queue_shows_only_the_agents_own_workspace(slack):
    service = slack.core.conversations
    discord_conv = service.open(Address("discord", "111", "222", "G0GUILD"), Actor("discord", "333", "dan"), "en")
    service.hand_off(discord_conv, "asked_for_human")
    await slack.say("human please", user=CUSTOMER)
    await slack.settle()
    agent = Actor("slack", AGENT, "", Role.AGENT, workspace=TEAM)
    result = await slack.core.execute(agent, "queue")
    assert result.data["conversations"] and discord_conv.id not in result.data["conversations"]
