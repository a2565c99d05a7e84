"""Slack settings, pure translation and layout, and outbound delivery against the fake Web API."""
from __future__ import annotations

import dataclasses

import pytest

import adapters.slack as slack_pkg
from adapters.slack.blocks import card_blocks, report_blocks, split_message
from bot.commands import parse_button_id, parse_picker_id
from adapters.slack.config import SlackSettings
from adapters.slack.outbound import Outbound, make_client
from adapters.slack.translate import Identity, translate_event
from bot.commands import COMMANDS
from bot.config import ConfigError
from vocab import Address, CardView, DeliveryError, PostReport, Role, SendMessage, Source, UpsertCard
from tests.fakes.slack_api import FakeSlackAPI

ME = Identity("UBOT", "BBOT", "T0TEAM")
BASE = {"slack_bot_token": "xoxb-1", "slack_signing_secret": "s", "slack_support_channels": "C111, C222",
        "slack_agent_channel": "CAGENTS", "slack_agent_users": "UAGENT1", "slack_lead_users": "ULEAD1"}


def settings(**kw) -> SlackSettings:
    return SlackSettings(_env_file=None, **{**BASE, **kw}).check()


# ---- configuration ------------------------------------------------------------------------------------------
def test_from_env_is_none_without_a_bot_token(monkeypatch, tmp_path):
    for var in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    assert slack_pkg.from_env(env_file=None) is None


@pytest.mark.parametrize("env, var", [
    ({"SLACK_BOT_TOKEN": "xoxp-user"}, "SLACK_BOT_TOKEN"),
    ({"SLACK_APP_TOKEN": "xoxb-wrong"}, "SLACK_APP_TOKEN"),
    ({"SLACK_SIGNING_SECRET": ""}, "SLACK_SIGNING_SECRET"),
    ({"SLACK_SUPPORT_CHANNELS": "C111,#support"}, "SLACK_SUPPORT_CHANNELS"),
    ({"SLACK_AGENT_CHANNEL": "agents"}, "SLACK_AGENT_CHANNEL"),
    ({"SLACK_AGENT_CHANNEL": ""}, "SLACK_AGENT_CHANNEL"),
    ({"SLACK_AGENT_USERS": "ann"}, "SLACK_AGENT_USERS"),
    ({"SLACK_AGENT_USERS": "", "SLACK_LEAD_USERS": ""}, "SLACK_AGENT_USERS"),
    ({"SLACK_API_URL": "ftp://x"}, "SLACK_API_URL"),
    ({"SLACK_COMMAND": "tandem"}, "SLACK_COMMAND"),
    ({"TANDEM_HTTP_PORT": "99999"}, "TANDEM_HTTP_PORT"),
    ({"SLACK_AGENT_CHANNEL": "C111"}, "SLACK_AGENT_CHANNEL"),
])
def test_invalid_settings_name_the_variable(monkeypatch, env, var):
    base = {k.upper(): v for k, v in BASE.items()}
    for key, value in {**base, **env}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as err:
        slack_pkg.load(env_file=None)
    assert str(err.value).startswith(var + ":")
    assert "xoxp-user" not in str(err.value), "secrets are never echoed"


def test_lists_are_parsed_and_socket_mode_needs_no_signing_secret(monkeypatch):
    for key, value in {k.upper(): v for k, v in BASE.items()}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-A1-123")
    s = slack_pkg.load(env_file=None)
    assert s.slack_support_channels == ("C111", "C222") and s.socket_mode
    assert s.slack_api_url == "https://slack.com/api/"


def test_manifest_declares_the_command_and_every_core_command_in_its_hint():
    import pathlib
    manifest = (pathlib.Path(slack_pkg.__file__).parent / "manifest.yml").read_text()
    assert "command: /tandem" in manifest and "is_enabled: true" in manifest
    hint = next(line for line in manifest.splitlines() if "usage_hint" in line)
    assert all(name in hint for name in COMMANDS)
    import yaml

    app = yaml.safe_load(manifest)  # the reactions: status reactions (write) and the ticket reaction (read, event)
    assert {"reactions:read", "reactions:write"} <= set(app["oauth_config"]["scopes"]["bot"])
    assert "reaction_added" in app["settings"]["event_subscriptions"]["bot_events"]


# ---- translation --------------------------------------------------------------------------------------------
def envelope(event, team="T0TEAM", event_id="Ev1"):
    return {"type": "event_callback", "team_id": team, "event_id": event_id, "event": event}


def test_thread_and_dm_addresses_and_roles():
    s = settings()
    top = translate_event(envelope({"type": "message", "channel": "C111", "user": "UCUST", "text": "hi",
                                    "ts": "1.1"}), s, ME).message
    assert top.address == Address("slack", "C111", "1.1", "T0TEAM") and top.author.role == Role.CUSTOMER
    reply = translate_event(envelope({"type": "message", "channel": "C111", "user": "UAGENT1", "text": "hi",
                                      "ts": "1.5", "thread_ts": "1.1"}), s, ME).message
    assert reply.address.thread == "1.1" and reply.author.role == Role.AGENT
    dm = translate_event(envelope({"type": "message", "channel": "D123", "channel_type": "im", "user": "ULEAD1",
                                   "text": "hi", "ts": "2.1", "thread_ts": "2.0"}), s, ME).message
    assert dm.address == Address("slack", "D123", "", "T0TEAM", is_dm=True) and dm.author.role == Role.LEAD


def test_slack_connect_external_users_are_customers_even_if_listed():
    event = {"type": "message", "channel": "C111", "user": "UAGENT1", "user_team": "T0OTHER", "team": "T0OTHER",
             "text": "hi", "ts": "1.1"}
    assert translate_event(envelope(event), settings(), ME).message.author.role == Role.CUSTOMER


def test_own_and_bot_messages_are_quietly_ignored():
    for event in ({"type": "message", "channel": "C111", "user": "UBOT", "text": "x", "ts": "1"},
                  {"type": "message", "channel": "C111", "bot_id": "B9", "text": "x", "ts": "1"}):
        result = translate_event(envelope(event), settings(), ME)
        assert result.message is None and result.quiet


# ---- layout -------------------------------------------------------------------------------------------------
CARD = CardView(7, "slack", "UCUST0001", "bot", "Draft ready", "<!channel> help", 3, "Try **Payments**", 0.82,
                (Source("change-date", "Changing a payment date", 0.9),), None, None,
                ("approve", "edit", "reject", "takeover", "handback", "resolve"), "#C1110000 thread 1.1")


def test_card_layout_buttons_and_escaping():
    text, blocks = card_blocks(CARD, frozenset({"UAGENT1"}))
    ids = [el["action_id"] for b in blocks if b["type"] == "actions" for el in b["elements"]]
    assert ids == ["tandem:approve:3", "tandem:edit:3", "tandem:reject:3", "tandem:takeover:7",
                   "tandem:handback:7", "tandem:resolve:7"]
    assert all(parse_button_id(i) for i in ids) and parse_button_id("tandem:drop:1") is None
    flat = str(blocks)
    assert "<!channel>" not in flat and "&lt;!channel&gt;" in flat and "<@UCUST0001>" in flat and "82%" in flat
    assert "<#C1110000>" in flat and "*Payments*" in flat and "**" not in flat


def test_card_picker_holds_at_most_100_saved_replies_and_needs_a_confirm():
    many = tuple((f"reply-{i:03d}", "A title that is rather long " * 4) for i in range(130))
    _, blocks = card_blocks(dataclasses.replace(CARD, snippets=many))
    [menu] = [el for b in blocks if b["type"] == "actions" for el in b["elements"] if el["type"] == "static_select"]
    assert menu["action_id"] == "tandem:snippet-to:7" and parse_picker_id(menu["action_id"]) == 7
    assert parse_button_id(menu["action_id"]) is None  # never taken for a button
    assert len(menu["options"]) == 100 and all(len(o["text"]["text"]) <= 75 for o in menu["options"])
    assert menu["confirm"]["deny"]["text"] == "Cancel"
    _, plain = card_blocks(CARD)
    assert "static_select" not in str(plain)  # no saved replies, no picker


def test_report_layout_and_split_text():
    report = PostReport("Weekly digest", "A good week.", tuple((f"k{i}", str(i)) for i in range(12)),
                        (("Top questions", "a\nb"),))
    text, blocks = report_blocks(report)
    assert blocks[0]["type"] == "header" and [len(b["fields"]) for b in blocks if "fields" in b] == [10, 2]
    long = ("word " * 2000).strip()
    parts = split_message(long)
    assert all(len(p) <= 3900 for p in parts) and " ".join(parts) == long


# ---- delivery -----------------------------------------------------------------------------------------------
@pytest.fixture
async def out():
    async with FakeSlackAPI() as api:
        s = settings(slack_api_url=api.base_url)
        outbound = Outbound(make_client(s), s)
        yield api, outbound
        await outbound.client.session.close() if outbound.client.session else None


async def test_long_retry_after_and_hopeless_errors_go_back_to_the_outbox(out):
    api, outbound = out
    msg = SendMessage(Address("slack", "C111", "1.1"), "hello")
    api.fail_next(1, status=429, retry_after=30)
    with pytest.raises(DeliveryError) as err:
        await outbound.deliver(msg)
    assert err.value.retry and err.value.retry_after == 30
    api.fail_next(1, status=200, error="channel_not_found")
    with pytest.raises(DeliveryError) as err:
        await outbound.deliver(msg)
    assert not err.value.retry
    api.fail_next(3, status=503)
    with pytest.raises(DeliveryError) as err:
        await outbound.deliver(msg)
    assert err.value.retry
    assert (await outbound.deliver(msg)).ref


async def test_long_messages_are_split_and_cards_reposted_when_gone(out):
    api, outbound = out
    await outbound.deliver(SendMessage(Address("slack", "C111", "1.1"), "para. " * 1500))
    assert len(api.called("chat.postMessage")) == 3
    api.fail_next(1, status=200, error="message_not_found", method="chat.update")
    delivery = await outbound.deliver(UpsertCard(CARD, ref="1.9", channel="CAGENTS"))
    assert delivery.ref and delivery.ref != "1.9" and delivery.channel == "CAGENTS"


async def test_a_long_message_that_fails_part_way_resumes_where_it_stopped(out):
    api, outbound = out
    msg = SendMessage(Address("slack", "C111", "1.1"), " ".join(f"sentence {i}." for i in range(700)))  # 3 messages
    api.fail_next(1, status=200, error="internal_error", method="chat.postMessage", after=1)
    with pytest.raises(DeliveryError):
        await outbound.deliver(msg)
    assert msg.parts.done == 1 and msg.parts.first_ref
    delivery = await outbound.deliver(msg)  # the outbox's retry: same action, same progress
    posted = [c.params["text"] for c in api.called("chat.postMessage")]  # ok=false answers are HTTP 200 too
    first, second, third = dict.fromkeys(posted)
    assert posted == [first, second, second, third]  # part 2 refused once then sent; part 1 never again
    assert delivery.ref == msg.parts.first_ref and msg.parts.done == 3


async def test_report_with_image_uses_files_upload_v2(out, tmp_path):
    api, outbound = out
    png = tmp_path / "digest.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    delivery = await outbound.deliver(PostReport("Weekly digest", "Summary", (("Drafts", "12"),), (), str(png)))
    assert delivery.ref and delivery.channel == "CAGENTS"
    assert [c.method for c in api.calls] == ["chat.postMessage", "files.getUploadURLExternal", "upload",
                                            "files.completeUploadExternal"]
    assert api.called("files.completeUploadExternal")[0].params["channel_id"] == "CAGENTS"
    assert list(api.uploads.values())[0].startswith(b"\x89PNG")
