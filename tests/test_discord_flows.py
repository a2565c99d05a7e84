"""End-to-end Discord flows: real discord.py against the fake Discord, a real core on SQLite.

Customer message -> thread + card -> Approve -> reply in the thread; Edit through the modal; takeover,
an agent writing in the thread, hand back; a refused slash command; a button on a card posted before a
restart; replayed and resumed MESSAGE_CREATEs; DMs, forum posts, edits, deletes, attachments and bots.
"""
from __future__ import annotations

import pytest

from vocab import Actor, Address
from tests.discord_harness import Desk, buttons, card_of, menus, until
from tests.fakes import discord_payloads as P
from tests.fakes.discord_fake import FakeDiscord

QUESTION = "What happens if I pay late?"


@pytest.fixture
async def fake():
    f = await FakeDiscord().start()
    yield f
    await f.stop()


@pytest.fixture
async def desk(fake, tmp_path):
    d = await Desk(fake, str(tmp_path / "tandem.db")).start()
    yield d
    await d.stop()




def conv_address(w: P.World, msg: dict) -> Address:
    return Address("discord", w.support_channel, msg["id"], w.guild_id)


def posts_in(fake: FakeDiscord, channel: str) -> list[str]:
    return [c.json["content"] for c in fake.find("POST", f"/channels/{channel}/messages")]


def followups(fake: FakeDiscord) -> list[str]:
    return [c.json.get("content", "") for c in fake.find("POST", r"/webhooks/\d+/[^/]+")]


async def ask(desk: Desk, channel: str | None = None, text: str = QUESTION) -> dict:
    msg = desk.world.customer_message(channel or desk.world.support_channel, text)
    await desk.send("MESSAGE_CREATE", msg)
    await until(lambda: "Approve" in buttons(card_of(desk.fake)), what="card with a draft")
    return msg


async def open_edit(desk: Desk) -> dict:
    """Press Edit on the latest card as the agent: the modal Tandem answered with."""
    await press(desk, desk.world.agent, "Edit")
    return desk.fake.find("POST", r"/interactions/\d+/[^/]+/callback")[-1].json


def modal_fields(modal: dict) -> list[dict]:
    """A modal's fields, each unwrapped from its Label (component type 18)."""
    assert all(c["type"] == 18 for c in modal["data"]["components"])
    return [c["component"] for c in modal["data"]["components"]]


async def submit(desk: Desk, modal: dict, values: list) -> str:
    """Submit `modal` as the agent with a value per field, in order: the ephemeral answer."""
    fields = modal_fields(modal)
    before = len(followups(desk.fake))
    await desk.fake.dispatch("INTERACTION_CREATE", desk.world.modal_submit(
        desk.world.agent, modal["data"]["custom_id"], {f["custom_id"]: v for f, v in zip(fields, values)}))
    await desk.fake.wait_for("POST", r"/webhooks/\d+/[^/]+", count=before + 1)
    await desk.idle()
    return followups(desk.fake)[-1]


async def press(desk: Desk, person: P.Person, label: str) -> None:
    card = card_of(desk.fake)
    before = len(desk.fake.find("POST", r"/interactions/\d+/[^/]+/callback"))
    await desk.fake.dispatch("INTERACTION_CREATE", desk.world.button(person, buttons(card)[label], card))
    await desk.fake.wait_for("POST", r"/interactions/\d+/[^/]+/callback", count=before + 1)
    await desk.idle()


async def test_customer_message_gets_thread_card_and_approved_reply(desk, fake):
    w = desk.world
    msg = await ask(desk)
    conv = desk.core.store.latest_conversation_at(conv_address(w, msg))
    assert conv is not None and conv.customer_id == w.customer.id
    card = card_of(fake)
    draft = desk.core.store.pending_draft(conv.id)
    assert buttons(card)["Approve"] == f"tandem:approve:{draft.id}"
    assert buttons(card)["Take over"] == f"tandem:takeover:{conv.id}"
    assert not fake.find("POST", r"/channels/\d+/messages/\d+/threads"), "no thread before there is a reply"

    await press(desk, w.agent, "Approve")
    callback = fake.find("POST", r"/interactions/\d+/[^/]+/callback")[-1]
    assert callback.json["type"] == 5 and callback.json["data"]["flags"] == 64  # deferred, ephemeral
    assert "approved" in followups(fake)[-1]
    threads = fake.find("POST", rf"/channels/{w.support_channel}/messages/{msg['id']}/threads")
    assert len(threads) == 1 and threads[0].json["name"] == QUESTION
    reply = posts_in(fake, msg["id"])  # the thread's id is the customer's message id
    assert len(reply) == 1 and "late fee" in reply[0].lower()
    assert "Approve" not in buttons(card_of(fake))  # card edited in place, no second card
    assert len(fake.find("POST", rf"/channels/{w.agent_channel}/messages")) == 1

    # the customer answers inside the thread: same conversation, no new thread
    inside = w.customer_message(msg["id"], "thanks, and can I change the date?")
    await desk.send("MESSAGE_CREATE", inside)
    await desk.idle()
    assert desk.core.store.latest_conversation_at(conv_address(w, msg)).id == conv.id
    assert len(fake.find("POST", r"/channels/\d+/messages/\d+/threads")) == 1


async def test_edit_through_the_modal(desk, fake):
    w = desk.world
    msg = await ask(desk)
    conv = desk.core.store.latest_conversation_at(conv_address(w, msg))
    draft = desk.core.store.pending_draft(conv.id)
    modal = await open_edit(desk)
    assert modal["type"] == 9 and modal["data"]["custom_id"] == f"tandem:editsubmit:{draft.id}"
    field, menu = modal_fields(modal)
    assert field["type"] == 4 and field["value"] == draft.text  # prefilled with the draft
    assert menu["type"] == 3 and menu["required"] is False  # the saved-reply menu is optional

    submit = w.modal_submit(w.agent, modal["data"]["custom_id"],
                            {field["custom_id"]: "Hi! A $7 fee after 10 days.", menu["custom_id"]: []})
    await fake.dispatch("INTERACTION_CREATE", submit)
    await fake.wait_for("POST", r"/webhooks/\d+/[^/]+")
    await desk.idle()
    assert posts_in(fake, msg["id"]) == ["Hi! A $7 fee after 10 days."]
    assert desk.core.store.draft(draft.id).status == "edited"


async def test_takeover_agent_writes_in_thread_then_hand_back(desk, fake):
    w = desk.world
    msg = await ask(desk)
    conv = desk.core.store.latest_conversation_at(conv_address(w, msg))
    await press(desk, w.agent, "Take over")
    assert desk.core.store.conversation(conv.id).state == "human"
    assert set(buttons(card_of(fake))) == {"Hand back", "Resolve"}

    # the thread exists once the agent writes (created by the customer's side in real life; here via THREAD_CREATE)
    await fake.dispatch("THREAD_CREATE", dict(P.thread(msg["id"], w.support_channel, w.guild_id, w.agent.id, "t"),
                                              newly_created=True))
    await desk.send("MESSAGE_CREATE", w.customer_message(msg["id"], "Hello, Bob here. Let me check.", person=w.agent))
    kinds = [m["author_kind"] for m in desk.core.store.recent_messages(conv.id)]
    assert kinds.count("agent") == 1

    await fake.dispatch("INTERACTION_CREATE", w.slash(w.agent, "handback", {"conversation": conv.id}))
    await fake.wait_for("POST", r"/webhooks/\d+/[^/]+")
    await desk.idle()
    assert desk.core.store.conversation(conv.id).state == "bot"
    assert "Take over" in buttons(card_of(fake))


async def test_slash_command_without_role_is_refused_and_logged(desk, fake):
    w = desk.world
    msg = await ask(desk)
    conv = desk.core.store.latest_conversation_at(conv_address(w, msg))
    draft = desk.core.store.pending_draft(conv.id)
    await fake.dispatch("INTERACTION_CREATE", w.slash(w.stranger, "approve", {"draft": draft.id}))
    await fake.wait_for("POST", r"/webhooks/\d+/[^/]+")
    callback = fake.find("POST", r"/interactions/\d+/[^/]+/callback")[-1].json
    assert callback["data"]["flags"] == 64  # ephemeral
    assert desk.core.store.draft(draft.id).status == "pending"
    refused = desk.core.store.events_named("command_refused")
    assert refused and refused[-1]["actor"] == "Dave"
    assert not posts_in(fake, msg["id"])

    # and a stranger's button press is refused the same way
    await press(desk, w.stranger, "Approve")
    assert desk.core.store.draft(draft.id).status == "pending"
    assert len(desk.core.store.events_named("command_refused")) == 2


async def test_button_on_old_card_works_after_restart(desk, fake):
    w = desk.world
    msg = await ask(desk)
    await desk.restart_adapter()
    assert len(fake.identifies) == 2
    await press(desk, w.lead, "Approve")
    assert len(posts_in(fake, msg["id"])) == 1


async def test_replayed_and_resumed_message_create_is_recorded_once(desk, fake):
    w = desk.world
    msg = await ask(desk)
    await desk.send("MESSAGE_CREATE", msg, recorded=False)  # Discord delivering the same event twice
    fake.replay_on_resume = 3
    await fake.request_reconnect()
    await until(lambda: fake.resumes, what="RESUME")
    await fake.wait_ready()
    await desk.idle()
    assert desk.inbox_count() == 1
    assert len(desk.core.store.recent_messages(1)) == 1
    assert len(fake.find("POST", rf"/channels/{w.agent_channel}/messages")) == 1
    assert len(desk.core.store.events_named("draft_superseded")) == 0


async def test_dm_is_a_conversation_answered_in_the_dm(desk, fake):
    w = desk.world
    await desk.send("MESSAGE_CREATE", w.dm_message(QUESTION))
    await until(lambda: "Approve" in buttons(card_of(fake)), what="card")
    await press(desk, w.agent, "Approve")
    assert len(posts_in(fake, w.dm_channel)) == 1
    assert not fake.find("POST", r"/channels/\d+/messages/\d+/threads")


async def test_forum_post_is_answered_in_its_thread(desk, fake):
    w = desk.world
    post = P.thread(P.snowflake(), w.forum_channel, w.guild_id, w.customer.id, "Late payment?")
    await fake.dispatch("THREAD_CREATE", dict(post, newly_created=True))
    await desk.send("MESSAGE_CREATE", w.customer_message(post["id"], QUESTION, mid=post["id"]))
    await until(lambda: "Approve" in buttons(card_of(fake)), what="card")
    await press(desk, w.agent, "Approve")
    assert len(posts_in(fake, post["id"])) == 1
    assert not fake.find("POST", r"/channels/\d+/messages/\d+/threads")


async def test_bots_ignored_edits_deletes_logged_attachments_handed_off(desk, fake):
    w = desk.world
    own = P.message(P.snowflake(), w.support_channel, w.bot_user(), "I am the bot", guild_id=w.guild_id)
    other = P.message(P.snowflake(), w.support_channel, w.other_bot, "beep", guild_id=w.guild_id)
    await desk.send("MESSAGE_CREATE", own, recorded=False)
    await desk.send("MESSAGE_CREATE", other, recorded=False)
    await desk.send("MESSAGE_CREATE", w.customer_message(w.other_channel, QUESTION), recorded=False)
    assert desk.inbox_count() == 0

    msg = await ask(desk)
    edited = dict(msg, content="What happens if I pay two days late?", edited_timestamp=P.now())
    await desk.send("MESSAGE_UPDATE", edited)
    await desk.send("MESSAGE_DELETE", {"id": msg["id"], "channel_id": msg["channel_id"], "guild_id": w.guild_id})
    assert desk.core.store.events_named("message_edited")[-1]["details"]
    assert desk.core.store.events_named("message_deleted")

    pic = w.customer_message(w.support_channel, "", attachments=[P.attachment()])
    await desk.send("MESSAGE_CREATE", pic)
    conv = desk.core.store.latest_conversation_at(conv_address(w, pic))
    assert conv.state == "waiting_human" and conv.handoff_reason == "attachment"


async def test_a_message_from_another_guild_is_ignored_and_agents_stay_in_their_guild(desk, fake):
    """Workspace scoping on Discord: only the configured guild is served, and a Discord agent cannot act on a
    conversation that lives on Slack."""
    w = desk.world
    forged = P.message(P.snowflake(), "1888888888888888888", w.customer.user, QUESTION,
                       guild_id="1999999999999999999", member_data=w.customer.member)  # a channel of another guild
    await desk.send("MESSAGE_CREATE", forged, recorded=False)
    await desk.idle()
    assert desk.inbox_count() == 0
    slack_conv = desk.core.conversations.open(Address("slack", "C0SUPPORT", "1.1", "T0TEAM"),
                                              Actor("slack", "U0CUSTOMER", "cara"), "en")
    await fake.dispatch("INTERACTION_CREATE", w.slash(w.agent, "reply", {"conversation": slack_conv.id,
                                                                         "text": "Hi from Discord"}))
    await until(lambda: any("not in your workspace" in f for f in followups(fake)), what="refusal")
    assert desk.core.store.recent_messages(slack_conv.id) == []
    refused = desk.core.store.events_named("command_refused")
    assert refused and '"workspace"' in refused[-1]["details"]


CALLBACK = r"/interactions/\d+/[^/]+/callback"


async def test_card_select_menu_sends_a_saved_reply_with_placeholders(desk, fake):
    w = desk.world
    msg = await ask(desk)
    conv = desk.core.store.latest_conversation_at(conv_address(w, msg))
    card = card_of(fake)
    assert card["embeds"][0]["title"].startswith(f"Conversation #{conv.id} · ")
    draft = desk.core.store.pending_draft(conv.id)
    assert f"**Draft d{draft.id}**" in card["embeds"][0]["description"]
    [menu] = menus(card)
    assert menu["custom_id"] == f"tandem:snippet-to:{conv.id}" and len(menu["options"]) <= 25
    assert {"greeting", "looking-into-it"} <= {o["value"] for o in menu["options"]}
    choice = w.select(w.agent, menu["custom_id"], ["looking-into-it"], card)
    await fake.dispatch("INTERACTION_CREATE", choice)
    await fake.wait_for("POST", r"/webhooks/\d+/[^/]+")
    await desk.idle()
    sent = posts_in(fake, msg["id"])[-1]
    assert sent.startswith(f"Thanks, {conv.customer}. I'm looking into this now") and f"#{conv.id}" in sent
    assert "\n" not in sent  # the file's wrapped lines are one paragraph
    assert "Saved reply `looking-into-it` sent" in followups(fake)[-1]
    conv = desk.core.store.conversation(conv.id)
    assert conv.state == "human" and desk.core.store.draft(draft.id).status == "superseded"
    assert '"snippet": "looking-into-it"' in desk.core.store.events_named("reply")[-1]["details"]
    await fake.dispatch("INTERACTION_CREATE", choice)  # the same interaction replayed: sent once
    await desk.idle()
    assert sum(p.startswith("Thanks, ") for p in posts_in(fake, msg["id"])) == 1


async def test_a_customer_choosing_in_the_menu_is_refused(desk, fake):
    w = desk.world
    msg = await ask(desk)
    card = card_of(fake)
    [menu] = menus(card)
    await fake.dispatch("INTERACTION_CREATE", w.select(w.customer, menu["custom_id"], ["greeting"], card))
    await fake.wait_for("POST", r"/webhooks/\d+/[^/]+")
    await desk.idle()
    assert "only for the support team" in followups(fake)[-1]
    assert not any(p.startswith("Hi ") for p in posts_in(fake, msg["id"]))


async def test_app_command_autocompletes_the_saved_reply_name_and_sends_it(desk, fake):
    w = desk.world
    msg = await ask(desk)
    conv = desk.core.store.latest_conversation_at(conv_address(w, msg))
    await fake.dispatch("INTERACTION_CREATE", w.autocomplete(w.agent, "snippet", {"name": "refnd"}, "name"))
    [call] = await fake.wait_for("POST", CALLBACK)
    assert call.json["type"] == 8  # APPLICATION_COMMAND_AUTOCOMPLETE_RESULT
    choices = call.json["data"]["choices"]
    assert choices[0]["value"] == "refund-on-its-way" and choices[0]["name"].startswith("refund-on-its-way · ")
    await fake.dispatch("INTERACTION_CREATE", w.autocomplete(w.customer, "snippet", {"name": ""}, "name"))
    calls = await fake.wait_for("POST", CALLBACK, count=2)
    assert calls[-1].json["data"]["choices"] == []  # nothing shown to anyone who is not an agent
    await fake.dispatch("INTERACTION_CREATE", w.slash(w.agent, "snippet", {"name": "greeting",
                                                                           "conversation": conv.id}))
    await fake.wait_for("POST", r"/webhooks/\d+/[^/]+")
    await desk.idle()
    assert posts_in(fake, msg["id"])[-1].startswith(f"Hi {conv.customer}, this is ")


async def test_draft_ids_resolve_confirmation_and_mode_through_app_commands(desk, fake):
    w = desk.world
    msg = await ask(desk)
    conv = desk.core.store.latest_conversation_at(conv_address(w, msg))
    draft = desk.core.store.pending_draft(conv.id)

    async def slash(person, sub, options) -> str:
        before = len(fake.find("POST", r"/webhooks/\d+/[^/]+"))
        await fake.dispatch("INTERACTION_CREATE", w.slash(person, sub, options))
        await fake.wait_for("POST", r"/webhooks/\d+/[^/]+", count=before + 1)
        await desk.idle()
        return followups(fake)[-1]

    assert "is a draft" in await slash(w.agent, "show", {"conversation": f"d{draft.id}"})
    refused = await slash(w.agent, "resolve", {"conversation": conv.id})
    assert f"draft d{draft.id} waits for review" in refused and f"`resolve {conv.id} confirm`" in refused
    shown = await slash(w.agent, "show", {"conversation": conv.id})
    assert f"Draft d{draft.id} (" in shown
    approved = await slash(w.agent, "approve", {"draft": f"#d{draft.id}"})
    assert approved.startswith(f"Draft d{draft.id} approved and sent to ") and f"(conversation #{conv.id})" in approved
    assert "Mode is review" in await slash(w.lead, "mode", {})
    assert "resolved; the customer was asked for a rating" in await slash(w.agent, "resolve", {"conversation": conv.id})
    assert "1 (poor) to 5 (great)" in posts_in(fake, msg["id"])[-1]
    for text in ("10/10", "5"):  # a try at a rating is told how; a lone 1-5 is the rating
        await desk.send("MESSAGE_CREATE", w.customer_message(msg["id"], text))
        await desk.idle()
    said = posts_in(fake, msg["id"])
    assert "reply with just one number from 1" in said[-2] and "5/5" in said[-1]
    assert desk.core.store.ratings_for(conv.id) == [5]


async def test_edit_modal_saved_reply_menu_sends_it_filled_as_the_edit(desk, fake):
    w = desk.world
    msg = await ask(desk)
    conv = desk.core.store.latest_conversation_at(conv_address(w, msg))
    draft = desk.core.store.pending_draft(conv.id)
    modal = await open_edit(desk)
    field, menu = modal_fields(modal)
    assert {"greeting", "looking-into-it"} <= {o["value"] for o in menu["options"]} and len(menu["options"]) <= 25
    said = await submit(desk, modal, [field["value"], ["looking-into-it"]])  # the text left as the draft
    sent = posts_in(fake, msg["id"])[-1]
    assert sent.startswith(f"Thanks, {conv.customer}. I'm looking into this now") and f"#{conv.id}" in sent
    assert f"Draft d{draft.id} edited: saved reply `looking-into-it` sent to " in said
    assert desk.core.store.draft(draft.id).status == "edited" and desk.core.store.draft(draft.id).final_text == sent
    assert '"snippet": "looking-into-it"' in desk.core.store.events_named("edit")[-1]["details"]


async def test_edit_modal_with_changed_text_and_a_saved_reply_sends_nothing_and_gives_the_text_back(desk, fake):
    w = desk.world
    msg = await ask(desk)
    draft = desk.core.store.pending_draft(desk.core.store.latest_conversation_at(conv_address(w, msg)).id)
    modal = await open_edit(desk)
    mine = "Hi! The fee is $7 after ten days, sorry about that."
    said = await submit(desk, modal, [mine, ["greeting"]])
    assert "nothing was sent" in said and mine in said and f"d{draft.id}" in said
    assert posts_in(fake, msg["id"]) == [] and desk.core.store.draft(draft.id).status == "pending"
    said = await submit(desk, await open_edit(desk), ["", ["greetng"]])  # the box cleared, a name mistyped
    assert "There is no saved reply `greetng`" in said and desk.core.store.draft(draft.id).status == "pending"
    await submit(desk, await open_edit(desk), ["", ["greeting"]])  # the box cleared: the saved reply goes
    assert posts_in(fake, msg["id"])[-1].startswith("Hi ")
