"""A burst of customers: drafting stays bounded by TANDEM_WORKERS, nothing is lost, and a core stopped in the
middle of the burst is resumed by a new core on the same SQLite file. No timing assertions (see bench/)."""
from __future__ import annotations

import asyncio

from bench.intake import CountingDrafter, burst_message, lost_messages, sample_questions
from bot.drafting.retrieval import KBDrafter
from bot.kb import load_kb
from tests.conftest import FIXTURE_KB, make_settings, start_core

N = 200


def slow_drafter(delay: float = 0.01) -> CountingDrafter:
    return CountingDrafter(KBDrafter(load_kb(FIXTURE_KB)), delay)


async def send_burst(core, start: int, stop: int, questions: list[str]) -> None:
    for i in range(start, stop):
        receipt = await core.receive(burst_message(i, questions))
        assert not receipt.duplicate


def assert_all_applied(core) -> None:
    assert core.store.count_inbox("pending") == 0 and core.store.count_inbox("error") == 0
    assert not core.store.drafts_in_progress()


async def test_burst_never_exceeds_the_worker_limit_and_loses_nothing(tmp_path):
    settings = make_settings(tmp_path, tandem_workers=3)
    drafter = slow_drafter()
    core = await start_core(settings, drafter=drafter)
    try:
        await send_burst(core, 0, N, sample_questions(FIXTURE_KB))
        await core.wait_idle(timeout=30)
    finally:
        await core.stop()
    assert drafter.peak == 3  # the limit was reached, never passed
    assert drafter.calls == N
    assert_all_applied(core)
    assert lost_messages(core.store) == 0
    assert sum(1 for _ in core.store.export_conversations()) == N


async def test_core_stopped_mid_burst_is_resumed_by_a_new_core(tmp_path):
    settings = make_settings(tmp_path, tandem_workers=2)
    questions = sample_questions(FIXTURE_KB)
    drafter = slow_drafter(0.01)
    first = await start_core(settings, drafter=drafter)
    await send_burst(first, 0, N // 2, questions)
    while drafter.completed < 4:  # some drafts done, most still queued or in the drafter
        await asyncio.sleep(0.01)
    await first.stop()  # the crash: workers cancelled mid-draft
    await send_burst(first, N // 2, N, questions)  # the adapter still records (no core task runs)
    assert first.store.count_inbox("pending") >= N // 2
    assert len(first.store.drafts_in_progress()) > 0
    interrupted = drafter.calls - drafter.completed
    assert interrupted > 0

    second = await start_core(settings, drafter=drafter)
    try:
        await second.wait_idle(timeout=30)
    finally:
        await second.stop()
    assert_all_applied(second)
    assert lost_messages(second.store) == 0
    assert sum(1 for _ in second.store.export_conversations()) == N
    assert drafter.peak <= 2
    assert drafter.completed == N  # every message drafted exactly once to completion
