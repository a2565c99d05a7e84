"""A draft that came back is stored by the processor's next turn, with the inbox rows it applies then (one
transaction). What happens when the core stops in between: the draft is stored by the stop, not drafted again.
No timing assertions (see bench/)."""
from __future__ import annotations

import asyncio

from bench.intake import CountingDrafter, sample_questions
from bot.drafting.retrieval import KBDrafter
from bot.kb import load_kb
from tests.conftest import FIXTURE_KB, customer_message, make_settings, start_core

QUESTION = "How do I move a payment date?"


class HeldDrafter:
    """The KB drafter, answering only when the test lets it; says when it has answered."""

    name = "kb"

    def __init__(self):
        self.inner = KBDrafter(load_kb(FIXTURE_KB))
        self.asked, self.release, self.answered = asyncio.Event(), asyncio.Event(), asyncio.Event()
        self.calls = 0

    async def draft(self, request):
        self.calls += 1
        self.asked.set()
        await self.release.wait()
        result = self.inner.answer(request.question)
        self.answered.set()  # the worker stores it in the same step; the processor's turn comes after the test's
        return result


def draft_statuses(store) -> list[str]:
    return [row["status"] for row in store.db.query("SELECT status FROM drafts ORDER BY id")]


async def test_a_draft_back_just_before_a_stop_is_stored_and_not_drafted_again(tmp_path):
    settings = make_settings(tmp_path, tandem_workers=1)
    drafter = HeldDrafter()
    core = await start_core(settings, drafter=drafter)
    await core.receive(customer_message(QUESTION))
    await drafter.asked.wait()
    drafter.release.set()
    await drafter.answered.wait()
    await core.stop()  # before the processor's turn that would have stored it
    assert draft_statuses(core.store) == ["pending"]

    again = CountingDrafter(KBDrafter(load_kb(FIXTURE_KB)), 0)
    second = await start_core(settings, drafter=again)
    try:
        await second.wait_idle()
    finally:
        await second.stop()
    assert again.calls == 0, "a stored draft must not be drafted again"
    assert draft_statuses(second.store) == ["pending"]


async def test_drafts_and_follow_ups_interleaved_leave_one_draft_for_the_latest_message(tmp_path):
    """A follow-up applied in the same turn as the draft of the message before it supersedes that draft, whichever
    of the two the turn holds: the conversation ends with the latest message's draft awaiting review."""
    settings = make_settings(tmp_path, tandem_workers=2)
    drafter = CountingDrafter(KBDrafter(load_kb(FIXTURE_KB)), 0)
    core = await start_core(settings, drafter=drafter)
    try:
        for question in sample_questions(FIXTURE_KB)[:5]:  # different questions: a repeated one is a handoff
            await core.receive(customer_message(question, "dana"))
            await asyncio.sleep(0)
        await core.wait_idle()
    finally:
        await core.stop()
    statuses = draft_statuses(core.store)
    assert statuses[-1] == "pending" and statuses.count("pending") == 1, statuses
    assert core.store.count_drafts_in_progress() == 0
