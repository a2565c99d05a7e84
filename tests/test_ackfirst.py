"""Acknowledgements first (bot/ackfirst.py): while an adapter is answering a platform request, the core's
background work (inbox rows, the outbox) gives way; it never starves, and a request that
is only waiting for its body holds up nothing."""
from __future__ import annotations

import asyncio

from tests.conftest import conv_of, customer_message


async def _turns(n: int = 20) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_an_event_recorded_during_an_answer_is_applied_once_the_answer_is_out(core):
    core.ack.max_wait = 3600  # no bound here: the step waits for the answer alone
    with core.acknowledging():
        receipt = await core.receive(customer_message("How does pay in 4 work?", "cara"))
        await _turns()
        assert core.store.count_inbox("pending") == 1  # recorded, not applied while the answer is computed
        assert conv_of(core) is None
    await core.wait_idle()
    assert not receipt.duplicate and core.store.count_inbox("pending") == 0
    assert core.store.pending_draft(conv_of(core).id) is not None


async def test_background_work_is_not_starved_by_a_request_that_never_ends(core):
    """A flood (here one answer that never finishes) slows the background work by at most `max_wait` a step;
    every event is still applied, drafted and its card delivered."""
    core.ack.max_wait = 0.01
    with core.acknowledging():
        for who in ("ann", "bob", "cy"):
            await core.receive(customer_message("How does pay in 4 work?", who))
        await core.wait_idle()
        for who in ("ann", "bob", "cy"):
            assert core.store.pending_draft(conv_of(core, who).id) is not None
        assert core.test_adapter.cards  # the outbox delivered too
    assert core.ack.waits > 0 and core.ack.answering == 0


async def test_slack_answers_mark_the_request_and_a_slow_body_holds_up_nothing(tmp_path):
    """Through the real Slack server: a signed event is answered inside `acknowledging` (the count is back to 0
    after the answer), and a client that has sent its headers but not its body does not make the core wait."""
    from tests.fakes.slack_client import SlackHarness

    async with SlackHarness(tmp_path) as slack:
        seen: list[int] = []
        real = slack.core.receive

        async def noting(event):
            seen.append(slack.core.ack.answering)
            return await real(event)

        slack.core.receive = noting
        reader, writer = await asyncio.open_connection("127.0.0.1", slack.adapter.port)
        writer.write(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 500\r\n\r\n{")
        await writer.drain()
        await _turns()
        assert slack.core.ack.answering == 0  # waiting for a body is not answering
        await slack.say("How does pay in 4 work?")
        await slack.settle()
        assert seen == [1] and slack.core.ack.answering == 0
        writer.close()


async def test_wal_checkpoints_are_taken_off_the_writer(core, monkeypatch):
    """The core's connection no longer checkpoints at SQLite's default 1,000 pages (that commit paid for copying
    the log back, on the loop); a worker thread on its own connection does it instead."""
    import bot.core

    assert core.store.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 20_000
    done: list[tuple[int, int, int]] = []
    real = core.store.checkpoint

    def noting():
        done.append(real())
        return done[-1]

    monkeypatch.setattr(core.store, "checkpoint", noting)
    monkeypatch.setattr(bot.core, "CHECKPOINT_EVERY", 0.01)
    await core.stop()
    await core.start()  # the task picks up the short interval
    for who in ("ann", "bob"):
        await core.receive(customer_message("How does pay in 4 work?", who))
    await core.wait_idle()
    for _ in range(500):
        if any(frames and checkpointed == frames for _busy, frames, checkpointed in done):
            break
        await asyncio.sleep(0.01)
    assert any(frames and checkpointed == frames for _busy, frames, checkpointed in done), done
