"""What Tandem posts never pings a channel or a role and never hides a link: through the real slack_sdk and
discord.py clients against their fakes, with a model (the fake OpenAI endpoint) that answers with pings and a
masked link, and a customer whose own message carries one."""
from __future__ import annotations

import json

import pytest

from tests.discord_harness import Desk, buttons, card_of, until
from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_client import SlackHarness

EVIL = ("Sure! <!channel> @everyone <@&123456789012345678> please verify at "
        "<https://evil.example/login|tandem.com/verify> or [tandem.com/verify](https://evil.example/login) <!here>")
PINGS = ("<!channel>", "<!here>", "@everyone", "<@&", "evil.example", "tandem.com/verify")


@pytest.fixture
async def model():
    async with FakeOpenAI() as server:
        server.reply(EVIL, confidence=0.9)
        yield server


def llm(model: FakeOpenAI) -> dict:
    return {"openai_base_url": model.base_url, "openai_api_key": "test", "tandem_llm_timeout": 5}


def clean(text: str) -> bool:
    return not any(p in text for p in PINGS)


async def test_slack_posts_no_ping_and_no_masked_link(tmp_path, model):
    async with SlackHarness(tmp_path, core=llm(model)) as slack:
        ts = await slack.say("How does pay in 4 work? <!channel>")  # a customer typing @channel
        await slack.settle()
        card = slack.cards()[-1]
        assert "<!channel>" not in card["text"]  # the notification text of the review card
        assert "<!channel>" not in json.dumps(card["blocks"])
        shown = json.dumps(slack.latest_card_blocks())
        assert "Removed from this draft" in shown and "evil[.]example" in shown
        await slack.press(slack.buttons(slack.latest_card_blocks())["approve"])
        await slack.settle()
        (reply,) = slack.raw_replies(thread=ts)
        assert reply.startswith("Sure! [ping removed] [ping removed] [ping removed] please verify at [link removed]")
        assert clean(reply) and "<!" not in reply and "|" not in reply
        for call in slack.api.called("chat.update") + slack.api.called("chat.postMessage"):
            assert "<!" not in call.params.get("text", "") and "<!" not in json.dumps(call.params.get("blocks", []))


def test_slack_rendering_escapes_specials_and_masked_links():
    from adapters.slack.blocks import render

    assert render("<!channel> <https://evil.example|tandem.com> <!subteam^S1> a & b") == \
        "&lt;!channel&gt; &lt;https://evil.example|tandem.com&gt; &lt;!subteam^S1&gt; a &amp; b"
    assert render("[Help|centre](https://help.example/a)") == "<https://help.example/a|Help/centre>"


def test_discord_rendering_shows_link_addresses_and_breaks_group_mentions():
    from adapters.discord.translate import render

    assert render("see [tandem.com/verify](https://evil.example/login) or [](https://a.example)") == \
        "see tandem.com/verify (https://evil.example/login) or https://a.example"
    assert render("@everyone @here <@&123456789012345678> <@42>") == \
        "@\u200beveryone @\u200bhere <@\u200b&123456789012345678> <@42>"  # a person's mention is kept




async def test_discord_posts_no_ping_and_no_masked_link_with_mentions_disabled(tmp_path, model):
    fake = await FakeDiscord().start()
    desk = await Desk(fake, str(tmp_path / "tandem.db"), **llm(model)).start()
    try:
        w = desk.world
        msg = w.customer_message(w.support_channel, "How does pay in 4 work? @everyone <@&123456789012345678>")
        await desk.send("MESSAGE_CREATE", msg)
        await until(lambda: "Approve" in buttons(card_of(fake)), what="card with a draft")
        description = card_of(fake)["embeds"][0]["description"]
        assert "Removed from this draft" in description and clean(description.replace("evil[.]example", ""))
        card = card_of(fake)
        await fake.dispatch("INTERACTION_CREATE", w.button(w.agent, buttons(card)["Approve"], card))
        await until(lambda: fake.find("POST", rf"/channels/{msg['id']}/messages"), what="the reply in the thread")
        await desk.idle()
        (reply,) = fake.find("POST", rf"/channels/{msg['id']}/messages")
        assert clean(reply.json["content"]) and "[link removed]" in reply.json["content"]
        sends = fake.find("POST", r"/channels/\d+/messages") + fake.find("PATCH", r"/channels/\d+/messages/\d+")
        sends += fake.find("POST", r"/webhooks/\d+/[^/]+")  # the interaction's follow-up answer
        assert sends
        for call in sends:
            assert call.json.get("allowed_mentions") == {"parse": []}, call.path
    finally:
        await desk.stop()
        await fake.stop()
