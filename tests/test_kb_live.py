"""The knowledge base follows its folder while Tandem runs: a file edited by hand, a file written by Tandem,
a broken file and a removed one, without a restart."""
from __future__ import annotations

import asyncio
import shutil

import pytest

from bot.drafting.retrieval import KBDrafter
from bot.kb import load_kb
from bot.kb_live import KBReadOnly, LiveKB
from tests.conftest import FIXTURE_KB, conv_of, make_settings, say, start_core

NEW_ARTICLE = """---
title: Gift cards
questions:
  - Can I pay with a gift card?
  - Do you accept gift vouchers?
---
Gift cards cannot be used for Pay in 4 orders; pay the shop with the gift card and the rest with us.
"""


@pytest.fixture
def kb_dir(tmp_path):
    folder = tmp_path / "kb"
    shutil.copytree(FIXTURE_KB, folder)
    return folder


def test_a_file_added_by_hand_is_answered_after_one_scan(kb_dir):
    kb = LiveKB(KBDrafter(load_kb(kb_dir)), kb_dir)
    assert kb.drafter.answer("can I use a gift voucher").sources[0].id != "gift-cards"
    (kb_dir / "gift-cards.md").write_text(NEW_ARTICLE)
    assert kb.scan() == ["gift-cards"]
    assert kb.drafter.answer("can I use a gift voucher").sources[0].id == "gift-cards"
    assert kb.scan() == []  # nothing changed since


def test_an_edit_that_breaks_a_file_keeps_its_last_good_version(kb_dir, caplog):
    kb = LiveKB(KBDrafter(load_kb(kb_dir)), kb_dir)
    before = kb.article("fraud")
    (kb_dir / "fraud.md").write_text("---\ntitle: [unclosed\n---\nbody\n")
    kb.scan()
    assert kb.article("fraud") == before
    assert "last good version of fraud stays in use" in caplog.text


def test_a_removed_file_leaves_the_index_and_write_is_atomic(kb_dir):
    kb = LiveKB(KBDrafter(load_kb(kb_dir)), kb_dir)
    kb.write("gift-cards", NEW_ARTICLE)
    assert kb.article("gift-cards").title == "Gift cards"
    assert not list(kb_dir.glob(".*.tmp"))  # the temporary file was renamed over, not left beside
    with pytest.raises(Exception):
        kb.write("gift-cards", "no front matter at all")  # refused before it replaces the good file
    assert kb.article("gift-cards").title == "Gift cards"
    assert "Gift cards" in (kb_dir / "gift-cards.md").read_text()
    kb.remove("gift-cards")
    assert kb.article("gift-cards") is None


def test_the_bundled_sample_cannot_be_written():
    kb = LiveKB(KBDrafter(load_kb(None)), None)
    assert not kb.writable
    with pytest.raises(KBReadOnly, match="TANDEM_KB"):
        kb.write("x", NEW_ARTICLE)


async def test_the_running_core_drafts_from_a_file_edited_by_hand(tmp_path, kb_dir):
    core = await start_core(make_settings(tmp_path, tandem_kb=kb_dir, tandem_kb_poll=0.05))
    try:
        (kb_dir / "gift-cards.md").write_text(NEW_ARTICLE)
        for _ in range(200):
            if core.kb.article("gift-cards"):
                break
            await asyncio.sleep(0.02)
        await say(core, "Do you accept gift vouchers?")
        draft = core.store.pending_draft(conv_of(core).id)
        assert draft.text.startswith("Gift cards cannot be used")
    finally:
        await core.stop()


async def test_a_write_on_the_event_loop_is_applied_in_a_thread_while_the_loop_keeps_running(tmp_path):
    """Teaching writes from the loop's thread: the index update runs elsewhere, and the loop runs meanwhile."""
    import asyncio
    import threading

    from bot.drafting.retrieval import KBDrafter
    from bot.kb import bundled_kb_path, load_kb
    from bot.kb_live import LiveKB

    folder = tmp_path / "kb"
    folder.mkdir()
    for path in bundled_kb_path().glob("*.md"):
        if path.name.lower() != "readme.md":
            (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    drafter = KBDrafter(load_kb(folder))
    kb = LiveKB(drafter, folder)
    applied_in: list[str] = []
    real_apply = drafter.apply

    def apply(changed, removed):
        applied_in.append(threading.current_thread().name)
        ticks_at_start = len(ticks)
        while len(ticks) == ticks_at_start:  # the update cannot finish until the loop has run a task
            threading.Event().wait(0.001)
        real_apply(changed, removed)

    drafter.apply = apply
    ticks: list[int] = []

    async def tick():
        while True:
            ticks.append(1)
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    text = "---\ntitle: Pay with a gift card\nquestions:\n  - Can I pay with a gift card?\n---\nGift cards are welcome.\n"
    article = kb.write("gift-card", text)
    assert kb.article("gift-card") == article  # readable at once, before the index has it
    await kb.settled()
    assert applied_in and applied_in[0] != threading.main_thread().name
    assert drafter.answer("can i pay using a gift card").text.strip() == "Gift cards are welcome."
    kb.remove("gift-card")
    assert kb.article("gift-card") is None
    await kb.settled()
    ticker.cancel()
    assert "gift-card" not in {a.id for a in drafter.index.articles}
