"""Teaching through Slack and Discord with their real clients against the fakes: the card's Save to knowledge base
button and the `teach` command, and a lead's one-click approval on the card (an agent's click is refused)."""
from __future__ import annotations

import frontmatter
import pytest

from bot.kb import load_article
from tests.discord_harness import Desk, buttons, card_of
from tests.fakes.slack_client import AGENT, LEAD, SlackHarness
from tests.test_discord_flows import ask, conv_address, fake, press  # noqa: F401  (fake: the fixture)
from tests.test_teach import GIFT, kb_dir  # noqa: F401  (kb_dir: the fixture, a copy of the fixture KB)


@pytest.fixture
async def slack(tmp_path, kb_dir):
    async with SlackHarness(tmp_path, core={"tandem_kb": str(kb_dir), "tandem_kb_poll": 0}) as harness:
        yield harness


def _taught_file(kb_dir, before: set[str]) -> str:
    (new,) = {p.stem for p in kb_dir.glob("*.md")} - before
    return new


async def test_slack_an_agent_written_answer_saved_with_the_card_button_and_approved_in_one_click(slack, kb_dir):
    before = {p.stem for p in kb_dir.glob("*.md")}
    ts = await slack.say("Can I pay with a gift card?")
    await slack.settle()
    conv_id = int(slack.buttons(slack.latest_card_blocks())["takeover"].rsplit(":", 1)[1])
    await slack.command(f"reply {conv_id} {GIFT}")
    await slack.settle()
    assert GIFT in slack.replies(thread=ts)[-1]
    card = slack.buttons(slack.latest_card_blocks())
    assert "teach" in card  # Save to knowledge base, once a person's answer went out
    await slack.press(card["teach"])
    await slack.settle()
    new = _taught_file(kb_dir, before)
    assert load_article(kb_dir / f"{new}.md").is_draft
    assert any(new in answer for answer in slack.answers(AGENT))
    card = slack.buttons(slack.latest_card_blocks())
    await slack.press(card["approve_taught"])  # an agent may not approve
    await slack.settle()
    assert load_article(kb_dir / f"{new}.md").is_draft and "leads only" in slack.answers(AGENT)[-1]
    await slack.press(card["approve_taught"], user=LEAD)
    await slack.settle()
    assert not load_article(kb_dir / f"{new}.md").is_draft
    assert "approve_taught" not in slack.buttons(slack.latest_card_blocks())


async def test_slack_teach_command_from_an_approved_draft_and_kb_approve(slack, kb_dir):
    ts = await slack.say("could I push my payment back a few days")
    await slack.settle()
    card = slack.buttons(slack.latest_card_blocks())
    draft = slack.core.store.draft(int(card["approve"].rsplit(":", 1)[1]))
    assert draft.source_list[0].id == "change-date"
    await slack.press(card["approve"])
    await slack.settle()
    await slack.command(f"teach {draft.conversation_id}")
    await slack.settle()
    assert "could I push my payment back a few days" in load_article(kb_dir / "change-date.md").questions
    await slack.command("kb pending", user=LEAD)
    await slack.command("kb approve change-date", user=LEAD)
    await slack.settle()
    assert "change-date" in slack.answers(LEAD)[0] and "approved" in slack.answers(LEAD)[-1]
    assert not load_article(kb_dir / "change-date.md").is_draft


@pytest.fixture
async def desk(fake, tmp_path, kb_dir):
    d = await Desk(fake, str(tmp_path / "tandem.db"), tandem_kb=str(kb_dir), tandem_kb_poll=0).start()
    yield d
    await d.stop()


async def slash(desk: Desk, person, sub: str, options: dict) -> None:
    before = len(desk.fake.find("POST", r"/webhooks/\d+/[^/]+"))
    await desk.fake.dispatch("INTERACTION_CREATE", desk.world.slash(person, sub, options))
    await desk.fake.wait_for("POST", r"/webhooks/\d+/[^/]+", count=before + 1)
    await desk.idle()


async def test_discord_an_edit_of_substance_becomes_a_version_a_lead_approves_with_one_click(desk, fake, kb_dir):
    w = desk.world
    msg = await ask(desk)  # "What happens if I pay late?"
    conv = desk.core.store.latest_conversation_at(conv_address(w, msg))
    draft = desk.core.store.pending_draft(conv.id)
    new = "We stopped charging late fees: a failed payment is simply retried after 2 days."
    await slash(desk, w.agent, "edit", {"draft": draft.id, "text": new})
    await slash(desk, w.agent, "teach", {"conversation": conv.id})
    assert load_article(kb_dir / "late-payment.md").answer.startswith("If a payment fails")
    assert {"Approve for the KB", "Discard lesson"} <= set(buttons(card_of(fake)))
    await press(desk, w.agent, "Approve for the KB")  # refused: leads only
    assert load_article(kb_dir / "late-payment.md").answer.startswith("If a payment fails")
    await press(desk, w.lead, "Approve for the KB")
    article = load_article(kb_dir / "late-payment.md")
    assert article.answer == new and not article.is_draft
    assert frontmatter.load(kb_dir / "late-payment.md")["approved_by"] == "Carol"


async def gift_card_question(desk: Desk):
    msg = desk.world.customer_message(desk.world.support_channel, "Can I pay with a gift card?")
    await desk.send("MESSAGE_CREATE", msg)
    return desk.core.store.latest_conversation_at(conv_address(desk.world, msg))


async def test_discord_save_to_knowledge_base_button_after_an_agent_reply(desk, fake, kb_dir):
    w = desk.world
    before = {p.stem for p in kb_dir.glob("*.md")}
    conv = await gift_card_question(desk)
    await slash(desk, w.agent, "reply", {"conversation": conv.id, "text": GIFT})
    assert "Save to knowledge base" in buttons(card_of(fake))
    await press(desk, w.agent, "Save to knowledge base")
    new = _taught_file(kb_dir, before)
    assert load_article(kb_dir / f"{new}.md").answer == GIFT
    await slash(desk, w.lead, "kb", {"action": "approve", "article": new})
    assert not load_article(kb_dir / f"{new}.md").is_draft


LATE = "We stopped charging late fees: a failed payment is simply retried after 2 days."


async def test_slack_a_resolved_card_offers_to_save_an_answer_the_agent_edited_past_recognition(slack, kb_dir):
    await slack.say("What happens if I pay late?")
    await slack.settle()
    draft = slack.core.store.draft(int(slack.buttons(slack.latest_card_blocks())["approve"].rsplit(":", 1)[1]))
    await slack.command(f"edit d{draft.id} {LATE}")
    await slack.settle()
    await slack.command(f"resolve {draft.conversation_id}")
    await slack.settle()
    blocks = slack.latest_card_blocks()
    assert list(slack.buttons(blocks)) == ["teach"] and "save it to the knowledge base?" in str(blocks)
    await slack.press(slack.buttons(blocks)["teach"])
    await slack.settle()
    assert "approve_taught" in slack.buttons(slack.latest_card_blocks())  # a version of late-payment waits
    assert load_article(kb_dir / "late-payment.md").answer.startswith("If a payment fails")  # not applied yet


async def test_discord_a_resolved_card_offers_to_save_what_the_agent_wrote(desk, fake, kb_dir):
    w = desk.world
    before = {p.stem for p in kb_dir.glob("*.md")}
    conv = await gift_card_question(desk)
    await slash(desk, w.agent, "takeover", {"conversation": conv.id})
    await slash(desk, w.agent, "reply", {"conversation": conv.id, "text": GIFT})
    await slash(desk, w.agent, "resolve", {"conversation": conv.id})
    card = card_of(fake)
    assert list(buttons(card)) == ["Save to knowledge base"] and "save it to the knowledge base?" in str(card["embeds"])
    await press(desk, w.agent, "Save to knowledge base")
    assert load_article(kb_dir / f"{_taught_file(kb_dir, before)}.md").answer == GIFT
