"""The outbox: nothing is lost when a platform fails or the process dies, and order is kept."""
from __future__ import annotations

import asyncio
import json

from vocab import DeliveryError, SendMessage
from tandem.runtime import build_core
from tests.conftest import AGENT, conv_of, customer_message, say, start_core


async def test_failed_send_is_retried_with_backoff_then_delivered(core, clock):
    await say(core, "How does pay in 4 work?")
    draft = core.store.pending_draft(conv_of(core).id)
    core.test_adapter.failures = [DeliveryError("HTTP 500"), DeliveryError("rate limited", retry_after=30)]
    await core.execute(AGENT, f"approve {draft.id}")
    await core.wait_idle()
    row = next(r for r in core.store.outbox_rows() if r["kind"] == "send_message")
    assert row["status"] == "pending" and row["attempts"] == 1 and row["last_error"] == "HTTP 500"
    assert core.test_adapter.sent == []
    clock.advance(seconds=1)  # first backoff is 1 s, then 2, 4, ... up to 10 minutes
    core.outbox.wake()
    await core.wait_idle()
    row = core.store._one("SELECT * FROM outbox WHERE id = ?", (row["id"],))
    assert row["attempts"] == 2 and row["last_error"] == "rate limited"
    clock.advance(seconds=30)  # Retry-After honoured
    core.outbox.wake()
    await core.wait_idle()
    assert core.test_adapter.texts() == [draft.text]
    assert core.store._one("SELECT status FROM outbox WHERE id = ?", (row["id"],))["status"] == "sent"
    msg = core.store._one("SELECT * FROM messages WHERE draft_id = ?", (draft.id,))
    assert msg["delivered_at"] is not None


async def test_messages_of_one_conversation_keep_their_order_when_one_fails(core, clock):
    await say(core, "I want to talk to a human")
    conv = conv_of(core)
    core.test_adapter.failures = [DeliveryError("timeout")]
    await core.execute(AGENT, f"reply {conv.id} first")
    await core.wait_idle()
    await core.execute(AGENT, f"reply {conv.id} second")  # due now, but must wait for "first"
    await core.wait_idle()
    assert "first" not in core.test_adapter.texts() and "second" not in core.test_adapter.texts()
    clock.advance(seconds=5)
    core.outbox.wake()
    await core.wait_idle()
    assert core.test_adapter.texts()[-2:] == ["first", "second"]


async def test_hopeless_failure_is_marked_logged_and_shown_in_the_queue(core):
    await say(core, "I want to talk to a human")
    conv = conv_of(core)
    core.test_adapter.failures = [DeliveryError("channel_not_found", retry=False)]
    await core.execute(AGENT, f"reply {conv.id} hello")
    await core.wait_idle()
    assert core.store.events_named("delivery_failed")[-1]["conversation_id"] == conv.id
    queue = await core.execute(AGENT, "queue")
    assert "not delivered" in queue.text


async def test_a_crash_after_acknowledgement_loses_nothing(settings, clock):
    # First process: events are recorded (acknowledged) but the core never processes them.
    first = build_core(settings, clock=clock)
    for i, text in enumerate(["How does pay in 4 work?", "I want to talk to a human"]):
        await first.receive(customer_message(text, who=f"c{i}", event_id=f"E{i}"))
    assert first.store.count_inbox("pending") == 2
    # Second process on the same file: everything is processed, drafted and delivered.
    second = await start_core(settings, clock=clock)  # the next process, on the same file
    adapter = second.test_adapter
    try:
        await second.wait_idle()
        assert second.store.count_inbox("pending") == 0
        assert second.store.pending_draft(conv_of(second, "c0").id) is not None
        assert conv_of(second, "c1").state == "waiting_human"
        assert any("person" in t for t in adapter.texts())
    finally:
        await second.stop()


async def test_pending_outbox_is_sent_at_start_up(settings, clock):
    first = build_core(settings, clock=clock)
    await first.start()  # no adapter registered: actions wait in the outbox
    await first.receive(customer_message("I want to talk to a human", event_id="E1"))
    for _ in range(100):
        if first.store.count_inbox("pending") == 0:
            break
        await asyncio.sleep(0.01)
    await first.stop()
    assert any(r["status"] == "pending" for r in first.store.outbox_rows())
    second = await start_core(settings, clock=clock)  # the next process, on the same file
    adapter = second.test_adapter
    try:
        await second.wait_idle()
        assert any("person" in t for t in adapter.texts())
        assert all(r["status"] == "sent" for r in second.store.outbox_rows())
    finally:
        await second.stop()


async def test_a_long_message_failing_part_way_is_resumed_from_the_outbox_row(core, clock):
    """The parts that went out are recorded in the outbox row, so the retry (even by a restarted bot) sends the rest."""
    from vocab import Delivery
    from bot.ports import send_parts

    posted: list[str] = []
    fail_at = {"part 2"}

    async def deliver(action):
        if not isinstance(action, SendMessage):
            return Delivery(ref="card", channel="agents")

        async def post(part: str) -> str:
            if part in fail_at:
                fail_at.discard(part)
                raise DeliveryError("HTTP 500")
            posted.append(part)
            return f"ref-{len(posted)}"

        return Delivery(ref=await send_parts(action.text.split(" | "), post, action.parts), channel="c")

    core.test_adapter.deliver = deliver
    await say(core, "I want to talk to a human")
    conv = conv_of(core)
    await core.execute(AGENT, f"reply {conv.id} part 1 | part 2 | part 3")
    await core.wait_idle()
    row = next(r for r in core.store.outbox_rows() if r["kind"] == "send_message" and "part 1" in r["payload"])
    assert posted[-1] == "part 1" and row["status"] == "pending"
    assert json.loads(row["payload"])["parts_done"] == 1 and json.loads(row["payload"])["first_ref"]
    clock.advance(seconds=1)
    core.outbox.wake()
    await core.wait_idle()
    assert [p for p in posted if p.startswith("part")] == ["part 1", "part 2", "part 3"]
    msg = core.store._one("SELECT * FROM messages WHERE text LIKE 'part 1%'")
    assert msg["platform_message_id"] == json.loads(row["payload"])["first_ref"]  # the message is known by its first part
