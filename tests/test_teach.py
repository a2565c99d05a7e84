"""Humans teach the bot, through the core's commands: from an approved, an edited and an agent-written answer; the
taught article drafts at once, never auto-sends until a lead approves it, and a lead's review applies or undoes it."""
from __future__ import annotations

import shutil

import frontmatter
import pytest

from bot.kb import load_article
from tests.conftest import AGENT, FIXTURE_KB, LEAD, conv_of, make_settings, say, start_core
from vocab import Actor, AuditAction, DraftStatus, Role

CUSTOMER = Actor("test", "U-cara", "cara", Role.CUSTOMER)


@pytest.fixture
def kb_dir(tmp_path):
    folder = tmp_path / "kb"
    shutil.copytree(FIXTURE_KB, folder)
    return folder


@pytest.fixture
async def desk(tmp_path, kb_dir, clock):
    core = await start_core(make_settings(tmp_path, tandem_kb=kb_dir, tandem_kb_poll=0), clock)
    yield core
    await core.stop()


async def run(core, actor, line):
    result = await core.execute(actor, line)
    await core.wait_idle()
    return result


def last_card(core, conversation_id):
    return [c.card for c in core.test_adapter.cards if c.card.conversation_id == conversation_id][-1]


async def agent_answers(core, question: str, answer: str, who: str = "cara"):
    await say(core, question, who)
    conv = conv_of(core, who)
    await run(core, AGENT, f"takeover {conv.id}")
    await run(core, AGENT, f"reply {conv.id} {answer}")
    return conv_of(core, who)


GIFT = "Gift cards cannot be used for Pay in 4 orders: pay the shop with the gift card and the rest with us."


async def test_an_agent_written_answer_becomes_a_draft_article_that_drafts_at_once_but_never_auto_sends(desk, kb_dir):
    conv = await agent_answers(desk, "Can I pay with a gift card?", GIFT)
    assert "teach" in last_card(desk, conv.id).buttons  # a person's answer went out: Save to knowledge base
    result = await run(desk, AGENT, f"teach {conv.id}")
    assert result.ok, result.text
    article_id = result.data["article"]
    post = frontmatter.load(kb_dir / f"{article_id}.md")
    assert post.content.strip() == GIFT
    assert post["questions"] == ["Can I pay with a gift card?"]
    assert post["status"] == "draft" and post["taught_by"] == "ana" and post["language"] == "en"
    assert post["taught_from"] == f"test conversation #{conv.id}"
    assert list(post.metadata)[:2] == ["title", "questions"]
    lesson = desk.store.lessons(conversation_id=conv.id)[0]
    assert (lesson["kind"], lesson["status"], lesson["article_id"]) == ("article", "draft", article_id)
    assert [e["action"] for e in desk.store.events_for(conv.id)][-2:] == [AuditAction.KB_WRITE, AuditAction.TEACH]
    assert last_card(desk, conv.id).buttons[-2:] == ("approve_taught", "discard_taught")

    await run(desk, LEAD, "mode auto")
    await say(desk, "can i pay using a gift card", "dan")
    dan = conv_of(desk, "dan")
    draft = desk.store.pending_draft(dan.id)
    assert draft is not None and draft.text == GIFT  # the paraphrase drafts from the taught article, no restart
    assert "not approved yet" in last_card(desk, dan.id).state_label  # the card says why it waits

    assert not (await run(desk, AGENT, f"kb approve {article_id}")).ok  # an agent cannot approve
    assert "draft" == frontmatter.load(kb_dir / f"{article_id}.md")["status"]
    result = await run(desk, LEAD, f"kb approve {article_id}")
    assert result.ok and "approved" in result.text
    post = frontmatter.load(kb_dir / f"{article_id}.md")
    assert "status" not in post.metadata and post["approved_by"] == "leo"
    assert desk.store.lessons(conversation_id=conv.id)[0]["status"] == "approved"
    await say(desk, "Can I pay with a gift card please?", "eve")
    sent = desk.store.draft(desk.store.events_named(AuditAction.AUTO_SEND)[-1]["draft_id"])
    assert sent.conversation_id == conv_of(desk, "eve").id and sent.status == DraftStatus.AUTO_SENT


async def test_an_approved_draft_files_the_question_under_its_article(desk, kb_dir):
    await say(desk, "how do the four payments work exactly")
    conv = conv_of(desk)
    draft = desk.store.pending_draft(conv.id)
    assert draft.source_list[0].id == "pay-in-4"
    await run(desk, AGENT, f"approve {draft.id}")
    result = await run(desk, AGENT, f"teach {conv.id}")
    assert result.ok, result.text
    article = load_article(kb_dir / "pay-in-4.md")
    assert article.questions[-1] == "how do the four payments work exactly" and article.is_draft
    assert desk.kb.article("pay-in-4").is_draft
    again = await run(desk, AGENT, f"teach {conv.id} pay-in-4")
    assert "already has that question" in again.text
    assert load_article(kb_dir / "pay-in-4.md").questions.count("how do the four payments work exactly") == 1
    result = await run(desk, LEAD, "kb pending")
    assert "pay-in-4" in result.text and "how do the four payments work exactly" in result.text
    await run(desk, LEAD, "kb discard pay-in-4")
    article = load_article(kb_dir / "pay-in-4.md")
    assert "how do the four payments work exactly" not in article.questions and not article.is_draft


async def test_an_edit_of_substance_waits_as_a_version_that_approval_applies(desk, kb_dir):
    await say(desk, "What happens if I pay late?")
    conv = conv_of(desk)
    draft = desk.store.pending_draft(conv.id)
    assert draft.source_list[0].id == "late-payment"
    new = "From 1 January we no longer charge late fees: a failed payment is retried after 2 days, that is all."
    await run(desk, AGENT, f"edit {draft.id} {new}")
    result = await run(desk, AGENT, f"teach {conv.id}")
    assert "new version" in result.text
    assert load_article(kb_dir / "late-payment.md").answer.startswith("If a payment fails")  # not applied silently
    kinds = {row["kind"] for row in desk.store.lessons(status="draft")}
    assert kinds == {"question", "version"} or kinds == {"version"}
    await run(desk, LEAD, "kb approve late-payment")
    article = load_article(kb_dir / "late-payment.md")
    assert article.answer == new and not article.is_draft


async def test_a_small_edit_is_not_a_new_version(desk, kb_dir):
    await say(desk, "is there a late fee")
    conv = conv_of(desk)
    draft = desk.store.pending_draft(conv.id)
    await run(desk, AGENT, f"edit {draft.id} Hi Cara! {draft.text}")
    await run(desk, AGENT, f"teach {conv.id}")
    assert not [row for row in desk.store.lessons() if row["kind"] == "version"]


async def test_a_customer_cannot_teach_and_an_agent_cannot_review(desk, kb_dir):
    conv = await agent_answers(desk, "Can I pay with a gift card?", GIFT)
    before = sorted(p.name for p in kb_dir.iterdir())
    result = await run(desk, CUSTOMER, f"teach {conv.id}")
    assert not result.ok and "only for the support team" in result.text
    assert sorted(p.name for p in kb_dir.iterdir()) == before and not desk.store.lessons()
    for line in ("kb pending", "kb approve pay-in-4", f"approve_taught {conv.id}"):
        assert not (await run(desk, AGENT, line)).ok


async def test_teaching_with_the_bundled_knowledge_base_says_how_to_set_tandem_kb(tmp_path, clock):
    core = await start_core(make_settings(tmp_path, tandem_kb=None), clock)
    try:
        conv = await agent_answers(core, "Can I pay with a gift card?", GIFT)
        result = await run(core, AGENT, f"teach {conv.id}")
        assert not result.ok and "TANDEM_KB" in result.text and "tandem kb init" in result.text
        assert not core.store.lessons()
    finally:
        await core.stop()


async def test_resolving_after_an_agent_wrote_the_answer_suggests_saving_it(desk):
    conv = await agent_answers(desk, "Can I pay with a gift card?", GIFT)
    await run(desk, AGENT, f"resolve {conv.id}")
    card = last_card(desk, conv.id)
    assert card.buttons == ("teach",) and "save it to the knowledge base" in card.state_label
    await say(desk, "What happens if I pay late?", "dan")  # a draft approved as it was: nothing to suggest
    dan = conv_of(desk, "dan")
    await run(desk, AGENT, f"approve {desk.store.pending_draft(dan.id).id}")
    assert "teach" in last_card(desk, dan.id).buttons  # still offered while the conversation is open
    await run(desk, AGENT, f"resolve {dan.id}")
    assert last_card(desk, dan.id).buttons == ()


async def test_an_answer_typed_in_the_thread_is_sanitised_before_it_becomes_an_article(desk, kb_dir):
    await say(desk, "Can I pay with a gift card?")
    conv = conv_of(desk)
    typed = "@everyone gift cards are not accepted, see https://evil.example.net/win for details"
    await say(desk, typed, role=Role.AGENT, user="U-AGENT", who="cara")  # straight into the customer's channel
    assert desk.store.recent_messages(conv.id)[-1]["author_kind"] == "agent"
    result = await run(desk, AGENT, f"teach {conv.id}")
    body = load_article(kb_dir / f"{result.data['article']}.md").answer
    assert "@everyone" not in body and "evil.example.net/win" not in body and "gift cards are not accepted" in body


async def test_a_taught_answer_keeps_the_language_it_was_written_in(desk, kb_dir):
    conv = await agent_answers(desk, "Apakah saya bisa bayar pakai kartu hadiah untuk pesanan saya?",
                               "Kartu hadiah tidak bisa dipakai untuk pesanan Pay in 4.")
    assert conv.language == "id"
    result = await run(desk, AGENT, f"teach {conv.id}")
    article = load_article(kb_dir / f"{result.data['article']}.md")
    assert article.language == "id" and article.answer.startswith("Kartu hadiah")
    assert desk.store.lessons(conversation_id=conv.id)[0]["language"] == "id"


async def test_naming_an_article_files_the_question_there_and_new_forces_an_article(desk, kb_dir):
    conv = await agent_answers(desk, "my instalment date clashes with payday", "Move it under Payments > Change date.")
    result = await run(desk, AGENT, f"teach {conv.id} change-date")
    assert result.ok and "my instalment date clashes with payday" in load_article(kb_dir / "change-date.md").questions
    assert not (await run(desk, AGENT, f"teach {conv.id} no-such-article")).ok
    other = await agent_answers(desk, "How does pay in 4 work?", "Four payments, two weeks apart.", "dan")
    forced = await run(desk, AGENT, f"teach {other.id} new")
    assert forced.data["article"] != "pay-in-4" and (kb_dir / f"{forced.data['article']}.md").exists()
    await run(desk, LEAD, f"kb discard {forced.data['article']}")
    assert not (kb_dir / f"{forced.data['article']}.md").exists() and desk.kb.article(forced.data["article"]) is None


def test_editing_a_file_keeps_its_front_matter_order_and_body():
    from bot import kb_edit

    text = (FIXTURE_KB / "pay-in-4.md").read_text()
    added = kb_edit.add_question(text, "can I pay in four parts?", draft=True)
    assert [line.split(":")[0] for line in added.splitlines()[1:] if line and not line.startswith(" ")][:3] == \
        ["title", "questions", "tags"]
    assert added.rstrip().endswith(frontmatter.loads(text).content)
    assert "  - can I pay in four parts?" in added and "status: draft" in added
    assert kb_edit.near_duplicate("what is Pay-in-4", ["What is pay in 4?"]) == "What is pay in 4?"
    assert kb_edit.near_duplicate("can I pay in four parts", ["What is pay in 4?"]) is None
    version = kb_edit.set_answer(text, "id", "Bayar dalam 4 kali cicilan.")
    assert frontmatter.loads(version)["answers"] == {"id": "Bayar dalam 4 kali cicilan."}
    assert frontmatter.loads(version).content == frontmatter.loads(text).content
    back = kb_edit.unpublish_marks(kb_edit.remove_questions(added, {"can I pay in four parts?"}))
    assert frontmatter.loads(back).metadata == frontmatter.loads(text).metadata


async def test_the_digest_points_at_an_agents_answer_to_a_gap_until_it_is_taught(desk, kb_dir):
    conv = await agent_answers(desk, "Can I order by phone?", "Not yet: orders go through the app or the website.")
    gaps = (await run(desk, LEAD, "digest")).text.split("Knowledge-base gaps")[1]
    assert f'"Can I order by phone?" — agent answer in conversation #{conv.id}: `teach {conv.id}`' in gaps
    assert (await run(desk, AGENT, f"teach {conv.id}")).ok
    gaps = (await run(desk, LEAD, "digest")).text.split("Knowledge-base gaps")[1]
    assert f"taught from conversation #{conv.id}" in gaps and f"`teach {conv.id}`" not in gaps
