"""An agent approving a draft unchanged is a lesson: the question becomes an example of the draft's article, live,
kept in SQLite (not in the file), loaded again after a restart, kept through a hand edit; an edit, a rejection, an
automatic send, a customer and TANDEM_LEARN_FROM_APPROVALS=false teach nothing."""
from __future__ import annotations

import random

import pytest

from bot import confirmations
from bot.kb import Article, load_article
from tandem.runtime import build_core
from tests.conftest import AGENT, FIXTURE_KB, LEAD, conv_of, make_settings, say, start_console, start_core
from tests.discord_harness import Desk
from tests.test_discord_flows import ask, conv_address, fake, press  # noqa: F401  (fake: the fixture)
from tests.test_teach import CUSTOMER, kb_dir, run  # noqa: F401  (kb_dir: the fixture, a copy of the fixture KB)
from tests.test_teach_platforms import slack  # noqa: F401  (the fixture: Slack's fake on a copy of the fixture KB)
from vocab import AuditAction, DraftStatus

QUESTION = "do I get charged extra if I pay after the deadline"  # drafts from late-payment, not handed off
PARAPHRASE = "charged extra after the deadline"  # drafts from fraud until QUESTION is confirmed for late-payment


def source_of(core, question: str) -> str:
    return core.kb.drafter.answer(question).sources[0].id


def confirm_events(core) -> list:
    return core.store.events_named(AuditAction.CONFIRM)


@pytest.fixture
async def desk(tmp_path, kb_dir, clock):
    core = await start_core(make_settings(tmp_path, tandem_kb=kb_dir, tandem_kb_poll=0), clock)
    yield core
    await core.stop()


async def test_console_an_approval_unchanged_makes_the_paraphrase_draft_from_that_article_without_restart(tmp_path):
    core = build_core(make_settings(tmp_path, tandem_kb_poll=0))
    console, out = await start_console(core)
    try:
        before = (FIXTURE_KB / "late-payment.md").read_text(encoding="utf-8")
        assert source_of(core, PARAPHRASE) == "fraud"
        await console.handle_line(f"bob> {QUESTION}")
        await core.wait_idle()
        draft = core.store.draft(1)
        assert draft.status == DraftStatus.PENDING and draft.source_list[0].id == "late-payment"
        result = await console.handle_line(f"/approve {draft.id}")
        await core.wait_idle()
        assert result.ok, result.text
        (row,) = core.store.confirmations()
        assert (row["article_id"], row["question"], row["agent"], row["draft_id"]) == (
            "late-payment", QUESTION, "ana", draft.id)
        (event,) = confirm_events(core)
        assert event["draft_id"] == draft.id and '"learned": true' in event["details"]
        assert (FIXTURE_KB / "late-payment.md").read_text(encoding="utf-8") == before  # the file is not touched
        assert not core.kb.article("late-payment").is_draft and QUESTION in core.kb.article("late-payment").confirmed

        await console.handle_line(f"dan> {PARAPHRASE}")
        await core.wait_idle()
        later = core.store.draft(2)
        assert later.source_list[0].id == "late-payment"  # no restart: the running index learned it
        assert later.text == load_article(FIXTURE_KB / "late-payment.md").answer
    finally:
        await core.stop()


async def test_an_edit_a_rejection_a_saved_reply_and_an_automatic_send_confirm_nothing(desk):
    await say(desk, QUESTION)
    draft = desk.store.pending_draft(conv_of(desk).id)
    await run(desk, AGENT, f"edit {draft.id} Hi! {draft.text}")
    await say(desk, QUESTION, "dan")
    draft = desk.store.pending_draft(conv_of(desk, "dan").id)
    await run(desk, AGENT, f"reject {draft.id} not quite")
    await run(desk, LEAD, "mode auto")
    await say(desk, "What happens if I pay late?", "eve")  # confident: sent on its own
    assert desk.store.events_named(AuditAction.AUTO_SEND)
    assert not desk.store.confirmations() and not confirm_events(desk)
    assert desk.kb.article("late-payment").confirmed == ()
    assert source_of(desk, PARAPHRASE) == "fraud"


async def test_an_edit_form_sent_back_unchanged_is_an_approval(desk):
    await say(desk, QUESTION)
    draft = desk.store.pending_draft(conv_of(desk).id)
    await run(desk, AGENT, f"edit {draft.id} {draft.text}")
    assert desk.store.draft(draft.id).status == DraftStatus.APPROVED
    assert [r["question"] for r in desk.store.confirmations()] == [QUESTION]


async def test_a_customer_cannot_confirm(desk):
    await say(desk, QUESTION)
    draft = desk.store.pending_draft(conv_of(desk).id)
    result = await run(desk, CUSTOMER, f"approve {draft.id}")
    assert not result.ok and "only for the support team" in result.text
    assert desk.store.draft(draft.id).status == DraftStatus.PENDING
    assert not desk.store.confirmations() and desk.kb.article("late-payment").confirmed == ()


async def test_the_setting_off_keeps_nothing_and_loads_nothing(tmp_path, kb_dir, clock):
    on = make_settings(tmp_path, tandem_kb=kb_dir, tandem_kb_poll=0)
    core = await start_core(on, clock)
    await say(core, QUESTION)
    await run(core, AGENT, f"approve {core.store.pending_draft(conv_of(core).id).id}")
    assert len(core.store.confirmations()) == 1
    await core.stop()

    off = make_settings(tmp_path, tandem_kb=kb_dir, tandem_kb_poll=0, tandem_learn_from_approvals=False)
    core = await start_core(off, clock)
    try:
        assert core.kb.article("late-payment").confirmed == ()  # what was kept is not loaded
        assert source_of(core, PARAPHRASE) == "fraud"
        await say(core, QUESTION, "dan")
        result = await run(core, AGENT, f"approve {core.store.pending_draft(conv_of(core, 'dan').id).id}")
        assert result.ok and len(core.store.confirmations()) == len(confirm_events(core)) == 1  # the first core's
    finally:
        await core.stop()


async def test_confirmations_survive_a_restart_and_a_hand_edit_of_the_article(tmp_path, kb_dir, clock):
    settings = make_settings(tmp_path, tandem_kb=kb_dir, tandem_kb_poll=0)
    core = await start_core(settings, clock)
    await say(core, QUESTION)
    await run(core, AGENT, f"approve {core.store.pending_draft(conv_of(core).id).id}")
    await core.stop()
    core.store.db.close()

    core = await start_core(settings, clock)  # a new core on the same database file
    try:
        assert core.kb.article("late-payment").confirmed == (QUESTION,)
        assert core.drafter.updates == {"full": 1, "incremental": 0}  # indexed with them at start-up, not after
        assert source_of(core, PARAPHRASE) == "late-payment"

        path = kb_dir / "late-payment.md"  # a person rewrites the answer and adds a question by hand
        new_answer = "A failed payment is retried after 2 days; there is no late fee."
        text = path.read_text(encoding="utf-8").replace("  - I missed a payment\n",
                                                        "  - I missed a payment\n  - my payment did not go through\n")
        head, _, _ = text.rpartition("---\n")
        path.write_text(head + "---\n" + new_answer + "\n", encoding="utf-8")
        assert core.kb.scan() == ["late-payment"]
        article = core.kb.article("late-payment")
        assert "my payment did not go through" in article.questions and article.confirmed == (QUESTION,)
        assert article.answer == new_answer
        assert source_of(core, PARAPHRASE) == "late-payment"
        await say(core, PARAPHRASE, "dan")
        assert core.store.pending_draft(conv_of(core, "dan").id).text == new_answer
    finally:
        await core.stop()


async def test_a_repeat_is_kept_but_teaches_nothing_and_a_removed_article_is_ignored(tmp_path, kb_dir, clock):
    settings = make_settings(tmp_path, tandem_kb=kb_dir, tandem_kb_poll=0)
    core = await start_core(settings, clock)
    for who in ("cara", "dan"):
        await say(core, QUESTION + ("?" if who == "dan" else ""), who)
        await run(core, AGENT, f"approve {core.store.pending_draft(conv_of(core, who).id).id}")
    assert len(core.store.confirmations()) == 2
    assert ['"learned": true', '"learned": false'] == [
        '"learned": true' if '"learned": true' in e["details"] else '"learned": false' for e in confirm_events(core)]
    assert core.kb.article("late-payment").confirmed == (QUESTION,)
    await core.stop()
    core.store.db.close()

    (kb_dir / "late-payment.md").unlink()
    core = await start_core(settings, clock)
    try:
        assert core.kb.article("late-payment") is None  # its confirmations are ignored, start-up goes on
        assert all(a.confirmed == () for a in core.kb.articles)
    finally:
        await core.stop()


def test_an_articles_confirmed_examples_skip_repeats_and_keep_the_newest():
    article = Article("a", "Late payments", "answer", questions=("is there a late fee",))
    newest_first = ["is there a late fee?", "fee for paying late", "Fee for paying late!", "what if I pay late"]
    assert confirmations.examples(article, newest_first) == ("fee for paying late", "what if I pay late")
    rng = random.Random(0)
    many = ["".join(rng.choice("abcdefghij klmnopqrst") for _ in range(30)) for _ in range(200)]  # newest first
    kept = confirmations.examples(article, many)
    assert len(kept) == confirmations.PER_ARTICLE and kept[0] == many[0]
    assert confirmations.added(article, "IS there a late fee") is None
    grown = confirmations.added(article, "a brand new way to ask")
    assert grown.confirmed == ("a brand new way to ask",) and grown.questions == article.questions


async def test_slack_the_approve_button_teaches_the_question_live(slack, kb_dir):
    before = (kb_dir / "late-payment.md").read_text(encoding="utf-8")
    await slack.say(QUESTION)
    await slack.settle()
    card = slack.buttons(slack.latest_card_blocks())
    draft = slack.core.store.draft(int(card["approve"].rsplit(":", 1)[1]))
    assert draft.source_list[0].id == "late-payment"
    await slack.press(card["approve"])
    await slack.settle()
    (row,) = slack.core.store.confirmations()
    assert (row["platform"], row["article_id"], row["question"]) == ("slack", "late-payment", QUESTION)
    assert (kb_dir / "late-payment.md").read_text(encoding="utf-8") == before
    await slack.say(PARAPHRASE, user="UCUST2")
    await slack.settle()
    card = slack.buttons(slack.latest_card_blocks())
    assert slack.core.store.draft(int(card["approve"].rsplit(":", 1)[1])).source_list[0].id == "late-payment"


async def test_an_approved_llm_draft_confirms_nothing(tmp_path, clock):
    from tests.fakes.openai_server import FakeOpenAI

    async with FakeOpenAI() as fake:
        core = await start_core(make_settings(tmp_path, openai_base_url=fake.base_url, openai_api_key="test",
                                              tandem_llm_timeout=2.0, tandem_kb_poll=0), clock)
        try:
            fake.reply("Late payments are retried after 2 days.", confidence=0.8)
            await say(core, QUESTION)
            draft = core.store.pending_draft(conv_of(core).id)
            assert draft.drafter == "llm" and draft.source_list[0].id == "late-payment"
            assert (await run(core, AGENT, f"approve {draft.id}")).ok
            assert not core.store.confirmations() and core.kb.article("late-payment").confirmed == ()
        finally:
            await core.stop()
            await core.drafter.aclose()


@pytest.fixture
async def discord_desk(fake, tmp_path, kb_dir):  # noqa: F811
    d = await Desk(fake, str(tmp_path / "tandem.db"), tandem_kb=str(kb_dir), tandem_kb_poll=0).start()
    yield d
    await d.stop()


async def test_discord_the_approve_button_teaches_the_question_live(discord_desk, fake):  # noqa: F811
    desk, w = discord_desk, discord_desk.world
    msg = await ask(desk, text=QUESTION)
    conv = desk.core.store.latest_conversation_at(conv_address(w, msg))
    assert desk.core.store.pending_draft(conv.id).source_list[0].id == "late-payment"
    await press(desk, w.agent, "Approve")
    (row,) = desk.core.store.confirmations()
    assert (row["platform"], row["article_id"], row["question"], row["conversation_id"]) == (
        "discord", "late-payment", QUESTION, conv.id)
    assert source_of(desk.core, PARAPHRASE) == "late-payment"
