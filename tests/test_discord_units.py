"""Discord settings, pure translation, the /tandem registry mapping, delivery errors and malformed payloads."""
from __future__ import annotations

import pytest

from adapters.discord import from_env, interactions, translate
from adapters.discord.config import DiscordSettings
from bot.commands import COMMANDS, card_buttons
from bot.config import ConfigError, load_settings
from vocab import Address, CardView, DeliveryError, PostReport, SendMessage, Source
from tests.discord_harness import TOKEN, Desk, discord_settings, until
from tests.fakes import discord_payloads as P
from tests.fakes.discord_fake import FakeDiscord

GOOD = dict(discord_token=TOKEN, discord_support_channels="111, 222", discord_agent_channel="333",
            discord_agent_role="444")


def test_from_env_is_none_without_a_token(tmp_path, monkeypatch):
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    assert from_env(None) is None
    env = tmp_path / ".env"
    env.write_text(f"DISCORD_TOKEN={TOKEN}\nDISCORD_SUPPORT_CHANNELS=1,2\nDISCORD_AGENT_CHANNEL=3\n"
                   "DISCORD_AGENT_ROLE=4\nDISCORD_API_URL=http://127.0.0.1:9/api/v10\n")
    adapter = from_env(str(env))
    assert adapter.platform == "discord" and adapter.support_channels == {"1", "2"}


@pytest.mark.parametrize("override, variable", [
    ({"discord_support_channels": "111,general"}, "DISCORD_SUPPORT_CHANNELS"),
    ({"discord_agent_channel": "#staff"}, "DISCORD_AGENT_CHANNEL"),
    ({"discord_lead_role": "@lead"}, "DISCORD_LEAD_ROLE"),
    ({"discord_guild_id": "acme"}, "DISCORD_GUILD_ID"),
    ({"discord_api_url": "discord.com/api"}, "DISCORD_API_URL"),
    ({"discord_gateway_url": "https://gateway.discord.gg"}, "DISCORD_GATEWAY_URL"),
    ({"discord_token": "short"}, "DISCORD_TOKEN"),
    ({"discord_support_channels": ""}, "DISCORD_SUPPORT_CHANNELS"),
    ({"discord_agent_channel": ""}, "DISCORD_AGENT_CHANNEL"),
    ({"discord_agent_role": ""}, "DISCORD_AGENT_ROLE"),
])
def test_bad_settings_name_the_variable(override, variable):
    with pytest.raises(ConfigError) as err:
        from_env(None, **{**GOOD, **override})
    assert str(err.value).startswith(f"{variable}:")
    assert TOKEN not in str(err.value)


def test_address_mapping():
    support = frozenset({"10", "11"})
    top = translate.Place("10", "1")
    assert translate.address_of(top, "99", support) == Address("discord", "10", "99", "1")
    in_thread = translate.Place("99", "1", parent_id="10")
    assert translate.address_of(in_thread, "100", support) == Address("discord", "10", "99", "1")
    dm = translate.Place("5", is_dm=True)
    assert translate.address_of(dm, "7", support) == Address("discord", "5", "", "", True)
    assert translate.address_of(translate.Place("12", "1"), "7", support) is None
    assert translate.address_of(translate.Place("98", "1", parent_id="12"), "7", support) is None


def test_split_text_respects_the_limit_and_breaks_at_lines():
    text = ("word " * 300 + "\n") * 3
    pieces = translate.split_message(text)
    assert all(len(p) <= 2000 for p in pieces) and len(pieces) >= 3
    assert "".join(pieces).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")
    assert translate.split_message("x" * 4500) == ["x" * 2000, "x" * 2000, "x" * 500]


def card(**changes) -> CardView:
    base = dict(conversation_id=4, platform="discord", customer="Alice", state="bot", state_label="Draft waiting",
                latest_message="late?", draft_id=9, draft_text="A $7 fee.", confidence=0.8,
                sources=(Source("late", "Late payments", 0.9),), handoff_reason=None, assignee=None,
                buttons=("approve", "edit", "reject", "takeover"))
    base.update(changes)
    return CardView(**base)


def test_card_layout_and_button_ids():
    embed = translate.card_embed(card(latest_message="x" * 5000, draft_text="y" * 5000))
    assert len(embed) <= 6000 and embed.title == "Conversation #4 · Alice"
    assert "**Draft d9**" in embed.description
    ids = [b.custom_id for b in card_buttons(card())]
    assert ids == ["tandem:approve:9", "tandem:edit:9", "tandem:reject:9", "tandem:takeover:4"]
    human = card(state="human", draft_id=None, draft_text=None, buttons=("handback", "resolve"))
    assert [b.label for b in card_buttons(human)] == ["Hand back", "Resolve"]


def test_report_embed_fits():
    report = PostReport("Weekly digest", "s" * 5000, fields=(("Conversations", "12"),),
                        sections=(("Top questions", "q\n" * 800),), image_path="digest.png")
    embed = translate.report_embed(report, "digest.png")
    assert len(embed) <= 6000 and embed.image.url == "attachment://digest.png"


def test_tandem_group_mirrors_the_registry():
    group = interactions.tandem_group()
    assert sorted(c.name for c in group.commands) == sorted(COMMANDS)
    for sub in group.commands:
        declared = COMMANDS[sub.name].args
        params = {p.name: p for p in sub.parameters}
        assert list(params) == [a.name for a in declared if a.required] + [a.name for a in declared if not a.required]
        for arg in declared:
            assert params[arg.name].required == arg.required
            if arg.choices:
                assert [c.value for c in params[arg.name].choices] == list(arg.choices)
    edit = {p.name: p.type.name for p in group.get_command("edit").parameters}
    assert edit == {"draft": "string", "text": "string"}  # so an agent can type d4 (or #d4, or 4)
    snippet = {p.name: p for p in group.get_command("snippet").parameters}
    assert snippet["name"].autocomplete and not snippet["conversation"].autocomplete


def test_modal_field_value_in_either_shape():
    rows = [{"type": 1, "components": [{"type": 4, "custom_id": "text", "value": "a"}]}]
    labels = [{"type": 18, "component": {"type": 4, "custom_id": "text", "value": "b"}}]
    assert interactions._field_value(rows, "text") == "a"
    assert interactions._field_value(labels, "text") == "b"
    assert interactions._field_value([{"type": 1}], "text") is None


@pytest.fixture
async def desk(tmp_path):
    fake = await FakeDiscord().start()
    d = await Desk(fake, str(tmp_path / "t.db")).start()
    yield d
    await d.stop()
    await fake.stop()


async def test_delivery_errors_say_whether_to_retry(desk):
    w, fake = desk.world, desk.fake
    where = Address("discord", w.dm_channel, "", "", True)
    # 503: a 5xx that discord.py does not retry itself (it sleeps through 500/502/504 a few times first)
    fake.fail("POST", rf"/channels/{w.dm_channel}/messages", 503)
    with pytest.raises(DeliveryError) as err:
        await desk.adapter.deliver(SendMessage(where, "hello"))
    assert err.value.retry
    fake.fail("POST", rf"/channels/{w.dm_channel}/messages", 403)
    with pytest.raises(DeliveryError) as err:
        await desk.adapter.deliver(SendMessage(where, "hello"))
    assert not err.value.retry
    delivered = await desk.adapter.deliver(SendMessage(where, "x" * 2500))
    assert delivered.ref and len(fake.find("POST", rf"/channels/{w.dm_channel}/messages")) == 1 + 1 + 2


async def test_a_long_message_that_fails_part_way_resumes_where_it_stopped(desk):
    w, fake = desk.world, desk.fake
    where = Address("discord", w.dm_channel, "", "", True)
    msg = SendMessage(where, "y" * 4500)  # three Discord messages
    fake.fail("POST", rf"/channels/{w.dm_channel}/messages", 403, after=2)
    with pytest.raises(DeliveryError):
        await desk.adapter.deliver(msg)
    assert msg.parts.done == 2
    delivered = await desk.adapter.deliver(msg)
    bodies = [c.json["content"] for c in fake.find("POST", rf"/channels/{w.dm_channel}/messages")]
    assert bodies == ["y" * 2000, "y" * 2000, "y" * 500, "y" * 500]  # the failed call, then only the last part
    assert delivered.ref == msg.parts.first_ref


async def test_undeliverable_reply_stays_in_outbox_and_is_retried(desk):
    w, fake = desk.world, desk.fake
    fake.fail("POST", r"/channels/\d+/messages/\d+/threads", 503)
    msg = w.customer_message(w.support_channel, "I want to talk to a human please")
    await desk.send("MESSAGE_CREATE", msg)
    await until(lambda: len(fake.find("POST", rf"/channels/{msg['id']}/messages")) >= 1, timeout=10,
                what="reply after a retry")
    assert len(fake.find("POST", r"/channels/\d+/messages/\d+/threads")) == 2


async def test_report_posts_embed_and_png(desk, tmp_path):
    png = tmp_path / "digest.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    report = PostReport("Weekly digest", "Quiet week.", fields=(("Conversations", "3"),), image_path=str(png))
    delivered = await desk.adapter.deliver(report)
    call = desk.fake.find("POST", rf"/channels/{desk.world.agent_channel}/messages")[-1]
    assert delivered.channel == desk.world.agent_channel
    assert call.json["files"][0]["filename"] == "digest.png"
    assert call.json["embeds"][0]["image"]["url"] == "attachment://digest.png"


async def test_malformed_gateway_payloads_do_not_break_the_connection(desk):
    w = desk.world
    broken = P.message(P.snowflake(), w.support_channel, w.customer.user, "x", guild_id=w.guild_id)
    del broken["content"], broken["type"]
    await desk.fake.dispatch("MESSAGE_CREATE", broken)
    await desk.fake.dispatch("INTERACTION_CREATE", {"id": "1", "type": 3})
    await desk.fake.dispatch("SOMETHING_NEW", {"x": 1})
    await desk.send("MESSAGE_CREATE", w.customer_message(w.support_channel, "still there?"))
    assert desk.inbox_count() == 1 and len(desk.fake.identifies) == 1


def test_settings_defaults_are_discord():
    s = load_settings(DiscordSettings, None, **GOOD)
    assert s.discord_api_url is None and s.support_channels == {"111", "222"}
    assert discord_settings  # the harness builds from the same class


async def test_base_urls_are_set_per_client_not_for_the_process(desk):
    """The client talks to the fake (REST, gateway and interaction answers) while discord.py's own defaults,
    which every other client in the process would use, are left as they are."""
    import discord
    from discord.gateway import DiscordWebSocket

    assert discord.http.Route.BASE == "https://discord.com/api/v10"
    assert str(DiscordWebSocket.DEFAULT_GATEWAY) == "wss://gateway.discord.gg/"
    assert desk.fake.find("GET", r"/users/@me"), "REST calls reached the fake"
    assert desk.adapter.client.ws is not None and desk.adapter.ready.is_set(), "the gateway is the fake's"


def test_the_intents_tandem_asks_for_include_reactions_and_no_other_privileged_one():
    from adapters.discord.adapter import intents

    wanted = intents()
    assert wanted.guild_reactions and wanted.dm_reactions  # the ticket reaction (MESSAGE_REACTION_ADD)
    assert wanted.message_content and not wanted.members and not wanted.presences
