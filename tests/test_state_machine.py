"""The conversation state machine's guarantees, driven through the real core and a real SQLite file."""
from __future__ import annotations

import asyncio

from vocab import Mode, Role, State
from tests.conftest import AGENT, LEAD, conv_of, customer_message, make_settings, say, start_core


def drafts(core, conv_id):
    return [dict(r) for r in core.store._all("SELECT * FROM drafts WHERE conversation_id = ? ORDER BY id", (conv_id,))]


async def test_confident_question_gets_a_pending_draft_and_a_card(core):
    await say(core, "How does pay in 4 work?")
    conv = conv_of(core)
    assert conv.state == State.BOT
    draft = core.store.pending_draft(conv.id)
    assert draft is not None and "four equal payments" in draft.text
    assert draft.source_list[0].id == "pay-in-4"
    assert core.test_adapter.sent == []  # review mode: nothing reaches the customer before approval
    assert core.test_adapter.cards[-1].card.draft_id == draft.id
    assert core.test_adapter.cards[-1].card.buttons == ("approve", "edit", "reject", "takeover")


async def test_card_is_updated_in_place_not_reposted(core):
    await say(core, "How does pay in 4 work?")
    await core.execute(AGENT, f"approve {core.store.pending_draft(conv_of(core).id).id}")
    await core.wait_idle()
    cards = core.test_adapter.cards
    assert len(cards) >= 2
    assert cards[0].ref is None and all(c.ref == "card-1" or c.ref == cards[1].ref for c in cards[1:])
    assert conv_of(core).card_ref == cards[1].ref


async def test_takeover_stops_the_bot_until_handback(core):
    await say(core, "How does pay in 4 work?")
    conv = conv_of(core)
    result = await core.execute(AGENT, f"takeover {conv.id}")
    await core.wait_idle()
    assert result.ok
    assert [d["status"] for d in drafts(core, conv.id)] == ["superseded"]
    sent_before = len(core.test_adapter.sent)
    await say(core, "What happens if I pay late?")
    await say(core, "can I change my payment date")
    conv = conv_of(core)
    assert conv.state == State.HUMAN and conv.assignee == "ana"
    assert [d["status"] for d in drafts(core, conv.id)] == ["superseded"]  # no new draft was made
    assert len(core.test_adapter.sent) == sent_before  # and nothing was sent by the bot
    await core.execute(AGENT, f"handback {conv.id}")
    await core.wait_idle()
    assert "Reply *human*" in core.test_adapter.texts()[-1]
    await say(core, "is there a late fee")
    assert core.store.pending_draft(conv.id) is not None


async def test_agent_writing_in_the_thread_is_a_takeover_and_no_draft_is_made(core):
    await say(core, "How does pay in 4 work?")
    await core.receive(customer_message("Hi, I'm Ana from support", "cara", role=Role.AGENT, user="U-AGENT"))
    await core.wait_idle()
    conv = conv_of(core)
    assert conv.state == State.HUMAN and conv.assignee == "cara" or conv.assignee
    kinds = [m["author_kind"] for m in core.store.recent_messages(conv.id)]
    assert kinds == ["customer", "agent"]
    assert core.store.pending_draft(conv.id) is None
    await say(core, "What happens if I pay late?")
    assert core.store.pending_draft(conv.id) is None
    assert conv_of(core).first_response_at is not None


async def test_drafts_finishing_after_a_takeover_are_discarded(core, settings):
    gate = asyncio.Event()

    class SlowDrafter:
        name = "slow"

        def __init__(self, inner):
            self.inner = inner

        async def draft(self, request):
            await gate.wait()
            return await self.inner.draft(request)

    core.drafter = SlowDrafter(core.drafter)
    await core.receive(customer_message("How does pay in 4 work?"))
    await asyncio.sleep(0.05)
    conv = conv_of(core)
    await core.execute(AGENT, f"takeover {conv.id}")
    gate.set()
    await core.wait_idle()
    assert [d["status"] for d in drafts(core, conv.id)] == ["superseded"]
    assert not [t for t in core.test_adapter.texts() if "four equal payments" in t]


async def test_new_message_supersedes_the_pending_draft(core):
    await say(core, "How does pay in 4 work?")
    await say(core, "Actually, what happens if I pay late?")
    conv = conv_of(core)
    statuses = [d["status"] for d in drafts(core, conv.id)]
    assert statuses == ["superseded", "pending"]
    assert "late fee" in core.store.pending_draft(conv.id).text
    open_drafts = [s for s in statuses if s in ("pending", "drafting")]
    assert len(open_drafts) == 1


async def test_burst_keeps_at_most_one_open_draft(core):
    for text in ["How does pay in 4 work?", "late fee?", "change my payment date", "what is pay in 4"]:
        await core.receive(customer_message(text))
    await core.wait_idle()
    conv = conv_of(core)
    statuses = [d["status"] for d in drafts(core, conv.id)]
    assert statuses.count("pending") == 1 and "drafting" not in statuses


async def test_asking_for_a_person_is_announced_with_what_happens_next(core):
    await say(core, "I want to talk to a human")
    conv = conv_of(core)
    assert conv.state == State.WAITING_HUMAN and conv.handoff_reason == "asked_for_human"
    notice = core.test_adapter.texts()[-1]
    assert "person" in notice and "minutes" in notice
    assert drafts(core, conv.id) == []


async def test_indonesian_request_for_a_person_is_answered_in_indonesian(core):
    await say(core, "saya mau bicara dengan orang", who="dewi")
    assert conv_of(core, "dewi").handoff_reason == "asked_for_human"
    assert "tim kami" in core.test_adapter.texts()[-1]


async def test_out_of_hours_handoff_says_when_the_team_is_back(tmp_path, clock):
    settings = make_settings(tmp_path, tandem_support_hours="Mon-Fri 09:00-17:00")
    clock.now = clock.now.replace(hour=22)
    core = await start_core(settings, clock=clock)
    adapter = core.test_adapter
    try:
        await say(core, "agent please")
        assert "Mon-Fri 09:00-17:00 (UTC)" in adapter.texts()[-1]
    finally:
        await core.stop()


async def test_each_handoff_is_announced_once(core):
    await say(core, "I want to talk to a human")
    await say(core, "hello?? human please")
    notices = [t for t in core.test_adapter.texts() if "person" in t]
    assert len(notices) == 1


async def test_low_confidence_hands_off(core):
    await say(core, "what's the weather like in Paris tomorrow")
    conv = conv_of(core)
    assert conv.state == State.WAITING_HUMAN and conv.handoff_reason == "low_confidence"
    assert core.test_adapter.texts()[-1].startswith("Thanks for your message")


async def test_sensitive_article_hands_off_but_keeps_the_draft_for_the_agent(core):
    await say(core, "There is a charge I don't recognise")
    conv = conv_of(core)
    assert conv.handoff_reason == "sensitive_topic"
    draft = core.store.pending_draft(conv.id)
    assert draft and draft.handoff_reason == "sensitive_topic"
    assert core.test_adapter.cards[-1].card.buttons[:3] == ("approve", "edit", "reject")


async def test_frustration_hands_off(core):
    await say(core, "This is ridiculous, nothing works")
    assert conv_of(core).handoff_reason == "frustration"
    await say(core, "Can I change my payment due date?", who="rex")
    await say(core, "can i change my payment due date??", who="rex")
    assert conv_of(core, "rex").handoff_reason == "frustration"


async def test_drafter_failure_hands_off_and_keeps_the_message(core):
    class Broken:
        name = "broken"

        async def draft(self, request):
            raise RuntimeError("model exploded")

    core.drafter = Broken()
    await say(core, "How does pay in 4 work?")
    conv = conv_of(core)
    assert conv.handoff_reason == "drafter_error"
    assert drafts(core, conv.id)[0]["status"] == "failed"
    assert core.store.recent_messages(conv.id)[0]["text"] == "How does pay in 4 work?"
    handoff = core.store.events_named("handoff")[-1]
    assert "model exploded" in handoff["details"]


async def test_resolve_asks_for_a_rating_and_stores_it(core):
    await say(core, "How does pay in 4 work?")
    conv = conv_of(core)
    await core.execute(AGENT, f"resolve {conv.id} confirm")
    await core.wait_idle()
    assert "1 (poor) to 5 (great)" in core.test_adapter.texts()[-1]
    await say(core, "4")
    conv = conv_of(core)
    assert conv.state == State.RESOLVED and core.store.ratings_for(conv.id) == [4]
    assert "4/5" in core.test_adapter.texts()[-1]


async def test_reopen_after_bot_only_conversation_goes_back_to_the_bot(core):
    await say(core, "How does pay in 4 work?")
    conv = conv_of(core)
    await core.execute(AGENT, f"resolve {conv.id} confirm")
    await say(core, "One more thing: what happens if I pay late?")
    reopened = conv_of(core)
    assert reopened.id == conv.id and reopened.state == State.BOT and reopened.reopened_count == 1
    assert "late fee" in core.store.pending_draft(conv.id).text


async def test_reopen_after_a_human_handled_it_returns_to_that_person_without_ping_pong(core):
    await say(core, "I want to talk to a human")
    conv = conv_of(core)
    await core.execute(AGENT, f"reply {conv.id} Hi, Ana here")
    await core.execute(AGENT, f"resolve {conv.id}")
    await say(core, "4")
    await say(core, "Hi again, what happens if I pay late?")
    conv = conv_of(core)
    assert conv.state == State.WAITING_HUMAN and conv.handoff_reason == "reopened" and conv.assignee == "ana"
    assert core.store.pending_draft(conv.id) is None  # the bot does not jump back in
    assert "ana will pick this up" in core.test_adapter.texts()[-1]
    await say(core, "hello?")
    assert core.store.pending_draft(conv.id) is None and conv_of(core).state == State.WAITING_HUMAN


async def test_writing_long_after_resolution_starts_a_new_conversation(core, clock):
    await say(core, "How does pay in 4 work?")
    first = conv_of(core)
    await core.execute(AGENT, f"resolve {first.id} confirm")
    clock.advance(hours=100)
    await say(core, "What happens if I pay late?")
    assert conv_of(core).id != first.id


async def test_auto_mode_sends_confident_drafts_labelled_and_reviews_the_rest(tmp_path, clock):
    core = await start_core(make_settings(tmp_path, tandem_mode="auto", tandem_auto_threshold=0.9), clock=clock)
    adapter = core.test_adapter
    try:
        await say(core, "How does pay in 4 work?")
        assert "four equal payments" in adapter.texts()[-1] and "Reply *human*" in adapter.texts()[-1]
        assert core.store.events_named("auto_send")
        conv = conv_of(core)
        assert core.store._one("SELECT status FROM drafts WHERE conversation_id = ?", (conv.id,))["status"] == "auto_sent"
        await say(core, "human")  # the one-word way out works
        assert conv_of(core).state == State.WAITING_HUMAN
    finally:
        await core.stop()


async def test_off_mode_only_logs_and_queues_for_humans(core):
    await core.execute(LEAD, "mode off")
    await say(core, "How does pay in 4 work?")
    conv = conv_of(core)
    assert conv.state == State.WAITING_HUMAN and conv.handoff_reason == "bot_off"
    assert drafts(core, conv.id) == []
    assert core.mode == Mode.OFF


async def test_attachment_only_message_is_handed_off(core):
    await say(core, "", attachments=2)
    conv = conv_of(core)
    assert conv.handoff_reason == "attachment"
    assert core.store.recent_messages(conv.id)[0]["attachments"] == 2


async def test_empty_message_gets_an_answer_and_is_logged(core):
    await say(core, "   \x00\x07 ")
    conv = conv_of(core)
    assert core.store.recent_messages(conv.id)[0]["text"] == ""
    assert "empty" in core.test_adapter.texts()[-1]
    assert core.store.events_named("empty_message")


async def test_huge_message_with_emoji_and_control_characters_is_kept_and_drafted(core):
    text = "How does pay in 4 work? 🙂\x1b[31m " + "blah " * 10_000
    await say(core, text)
    conv = conv_of(core)
    stored = core.store.recent_messages(conv.id)[0]["text"]
    assert len(stored) > 50_000 and "🙂" in stored and "\x1b" not in stored
    assert core.store._one("SELECT status FROM drafts WHERE conversation_id = ?", (conv.id,))["status"] in (
        "pending", "failed")
    assert len(core.test_adapter.cards[-1].card.latest_message) <= 1000


async def test_redelivered_event_is_recorded_and_acted_on_once(core):
    first = await core.receive(customer_message("How does pay in 4 work?", event_id="Ev1"))
    again = await core.receive(customer_message("How does pay in 4 work?", event_id="Ev1"))
    await core.wait_idle()
    assert not first.duplicate and again.duplicate and first.inbox_id == again.inbox_id
    conv = conv_of(core)
    assert len(core.store.recent_messages(conv.id)) == 1
    assert len(drafts(core, conv.id)) == 1


async def test_edits_and_deletions_are_logged(core):
    await say(core, "How does pay in 4 work?", message_id="orig-1")
    await core.receive(customer_message("How does pay in 4 work exactly?", kind="edit", message_id="orig-1"))
    await core.receive(customer_message("", kind="delete", message_id="orig-1"))
    await core.wait_idle()
    message = core.store.message_by_platform_id("test", "orig-1")
    assert message["text"] == "How does pay in 4 work exactly?" and message["deleted_at"]
    assert [e["action"] for e in core.store.events_for(message["conversation_id"])
            if e["action"].startswith("message_")] == ["message_edited", "message_deleted"]


async def test_resolve_with_a_waiting_draft_asks_to_confirm_and_confirm_says_what_was_discarded(core):
    await say(core, "How does pay in 4 work?")
    conv = conv_of(core)
    draft = core.store.pending_draft(conv.id)
    sent_before = len(core.test_adapter.texts())
    refused = await core.execute(AGENT, f"resolve {conv.id}")
    assert not refused.ok and f"draft d{draft.id} waits for review" in refused.text
    assert f"`resolve {conv.id} confirm`" in refused.text
    assert conv_of(core).state == State.BOT and core.store.draft(draft.id).status == "pending"
    assert core.store.events_named("command_error")[-1]["details"].count("resolve") >= 1
    await core.wait_idle()
    assert len(core.test_adapter.texts()) == sent_before  # the customer heard nothing
    done = await core.execute(AGENT, f"resolve {conv.id} confirm")
    assert done.ok and f"Draft d{draft.id} was discarded unsent" in done.text
    assert conv_of(core).state == State.RESOLVED and core.store.draft(draft.id).status == "superseded"
    assert f"[{draft.id}]" in core.store.events_named("resolve")[-1]["details"]
    bad = await core.execute(AGENT, f"resolve {conv.id} please")
    assert not bad.ok and "must be one of confirm" in bad.text


async def test_resolve_without_a_draft_needs_no_confirmation(core):
    await say(core, "I want to talk to a human")
    conv = conv_of(core)
    assert core.store.pending_draft(conv.id) is None
    done = await core.execute(AGENT, f"resolve {conv.id}")
    assert done.ok and done.text == f"Conversation #{conv.id} resolved; the customer was asked for a rating."


async def test_only_a_lone_1_to_5_is_a_rating_and_tries_at_one_are_told_how(core):
    await say(core, "I want to talk to a human")
    conv = conv_of(core)
    await core.execute(AGENT, f"resolve {conv.id}")
    for attempt in ("7", "0", "10/10", "5 stars", "4/5", "⭐⭐⭐⭐", "4.5", "lima bintang"):
        await say(core, attempt)
        assert "reply with just one number from 1 (poor) to 5 (great)" in core.test_adapter.texts()[-1], attempt
        again = conv_of(core)
        assert again.id == conv.id and again.state == State.RESOLVED and again.awaiting_rating, attempt
    assert core.store.ratings_for(conv.id) == []
    attempts = core.store.events_named("rating_attempt")
    assert len(attempts) == 8 and '"10/10"' in attempts[2]["details"]
    logged = [m["text"] for m in core.store.recent_messages(conv.id, limit=20) if m["author_kind"] == "customer"]
    assert logged[-2:] == ["4.5", "lima bintang"]
    await say(core, "5!")
    assert core.store.ratings_for(conv.id) == [5] and "5/5" in core.test_adapter.texts()[-1]


async def test_anything_else_after_the_rating_prompt_is_a_new_customer_message(core):
    await say(core, "I want to talk to a human")
    conv = conv_of(core)
    await core.execute(AGENT, f"resolve {conv.id}")
    await say(core, "5 more questions about my order please")
    reopened = conv_of(core)
    assert reopened.id == conv.id and reopened.state != State.RESOLVED and not reopened.awaiting_rating
    assert core.store.ratings_for(conv.id) == [] and not core.store.events_named("rating_attempt")


async def test_indonesian_customers_are_told_how_to_rate_in_indonesian(core):
    await say(core, "Saya mau bicara dengan orang, bukan bot")
    conv = conv_of(core)
    await core.execute(AGENT, f"resolve {conv.id}")
    await say(core, "10")
    assert "balas dengan satu angka saja dari 1" in core.test_adapter.texts()[-1]
