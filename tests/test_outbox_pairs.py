"""The outbox marks rows in pairs: the transaction that marks a row sent builds the next row of the pass and marks
it `sending`. A pass stopped right then puts that row back to `pending`: it was never tried, so the next start
sends it once, without looking for it as a row in flight. No timing assertions (see bench/)."""
from __future__ import annotations

import asyncio
from dataclasses import asdict

from tandem.runtime import build_core
from tests.conftest import RecordingAdapter, make_settings
from vocab import Address, OutboxKind


class FirstDeliveryAdapter(RecordingAdapter):
    """Says when its first delivery is done (the dispatcher goes on in the same step, so the test runs next)."""

    def __init__(self):
        super().__init__()
        self.first = asyncio.Event()

    async def deliver(self, action):
        delivery = await super().deliver(action)
        self.first.set()
        return delivery


def queue_reply(store, channel: str, text: str) -> int:
    return store.enqueue_action("test", OutboxKind.SEND_MESSAGE,
                                {"address": asdict(Address("test", channel=channel)), "text": text})


def status(store, row_id: int) -> str:
    return store.db.execute("SELECT status FROM outbox WHERE id = ?", [row_id]).fetchone()[0]


async def started(settings, adapter):
    core = build_core(settings)
    core.register(adapter)
    await adapter.start(core)
    await core.start()
    return core


async def test_a_row_prepared_by_a_pass_that_stops_is_pending_again_and_sent_once_after(tmp_path):
    settings = make_settings(tmp_path)
    first_adapter = FirstDeliveryAdapter()
    core = build_core(settings)
    one, two = queue_reply(core.store, "C-1", "one"), queue_reply(core.store, "C-2", "two")
    core.register(first_adapter)
    await first_adapter.start(core)
    await core.start()
    await first_adapter.first.wait()
    assert status(core.store, one) == "sent"
    assert status(core.store, two) == "sending", "the next row is marked in the transaction that marked one sent"
    await core.stop()
    assert status(core.store, two) == "pending", "a row never tried must not look in flight"
    assert first_adapter.texts() == ["one"]

    again = RecordingAdapter()
    second = await started(settings, again)
    try:
        await second.wait_idle()
    finally:
        await second.stop()
    assert again.texts() == ["two"]
    assert status(second.store, two) == "sent"
