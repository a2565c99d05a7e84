"""The lead's side of teaching on the command line: `tandem kb pending|approve|discard` and `tandem kb eval --taught`,
run as a user would (the real CLI in a subprocess) against a knowledge base and database taught by a running core."""
from __future__ import annotations

import json
import shutil

import frontmatter

from tests.conftest import AGENT, FIXTURE_KB, make_settings, start_core
from tests.test_console import tandem
from tests.test_teach import GIFT, agent_answers, run


async def taught(tmp_path):
    """A KB copy and a database where an agent taught a new article and a question for pay-in-4."""
    kb_dir = tmp_path / "kb"
    shutil.copytree(FIXTURE_KB, kb_dir)
    settings = make_settings(tmp_path, tandem_kb=kb_dir, tandem_kb_poll=0)
    core = await start_core(settings)
    try:
        conv = await agent_answers(core, "Can I pay with a gift card?", GIFT)
        new = (await run(core, AGENT, f"teach {conv.id}")).data["article"]
        other = await agent_answers(core, "could I split the bill into four parts", "Yes: choose Pay in 4.", "dan")
        assert (await run(core, AGENT, f"teach {other.id} pay-in-4")).ok
    finally:
        await core.stop()
    env = {"TANDEM_DB": settings.tandem_db, "TANDEM_KB": str(kb_dir)}
    return kb_dir, env, new


async def test_a_lead_reviews_on_the_command_line(tmp_path):
    kb_dir, env, new = await taught(tmp_path)
    listed = tandem("kb", "pending", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert new in listed.stdout and "pay-in-4" in listed.stdout and "could I split the bill" in listed.stdout
    approved = tandem("kb", "approve", new, env=env, cwd=tmp_path)
    assert approved.returncode == 0 and "approved" in approved.stdout, approved.stderr
    assert "status" not in frontmatter.load(kb_dir / f"{new}.md").metadata
    discarded = tandem("kb", "discard", "pay-in-4", env=env, cwd=tmp_path)
    assert discarded.returncode == 0, discarded.stderr
    assert "could I split the bill into four parts" not in (kb_dir / "pay-in-4.md").read_text()
    assert tandem("kb", "pending", env=env, cwd=tmp_path).stdout.startswith("Nothing waits")
    missing = tandem("kb", "approve", "no-such-article", env=env, cwd=tmp_path)
    assert missing.returncode == 1 and "There is no article `no-such-article`" in missing.stdout


async def test_eval_taught_names_a_lesson_that_no_longer_reaches_its_article(tmp_path):
    kb_dir, env, new = await taught(tmp_path)
    good = tandem("kb", "eval", "--taught", "--quiet", env=env, cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    report = json.loads(good.stdout)
    assert report["taught"] == 2 and report["broken"] == [] and report["top1_accuracy"] == 1.0
    assert {"questions", "top3_accuracy", "handoff_recall", "latency_ms_p50"} <= set(report)

    post = frontmatter.load(kb_dir / f"{new}.md")  # someone edits the file by hand and drops the question
    post.metadata.update(title="Where to shop", questions=["Which shops take your card?"])
    post.content = "Most online shops that show our logo at checkout."
    (kb_dir / f"{new}.md").write_text(frontmatter.dumps(post) + "\n")
    broken = tandem("kb", "eval", "--taught", "--quiet", env=env, cwd=tmp_path)
    assert broken.returncode == 1
    report = json.loads(broken.stdout)
    assert [(b["article"], b["question"]) for b in report["broken"]] == [(new, "Can I pay with a gift card?")]
    assert f"no longer reaches {new}" in broken.stderr

    (kb_dir / f"{new}.md").unlink()  # or moved away: still named
    gone = json.loads(tandem("kb", "eval", "--taught", "--quiet", env=env, cwd=tmp_path).stdout)
    assert [b["article"] for b in gone["broken"]] == [new]


def test_kb_init_copies_the_sample_and_eval_needs_a_file_or_taught(tmp_path):
    made = tandem("kb", "init", str(tmp_path / "mykb"), cwd=tmp_path)
    assert made.returncode == 0 and "TANDEM_KB=" in made.stdout
    assert len(list((tmp_path / "mykb").glob("*.md"))) >= 10
    assert tandem("kb", "init", str(tmp_path / "mykb"), cwd=tmp_path).returncode != 0
    usage = tandem("kb", "eval", cwd=tmp_path)
    assert usage.returncode == 2 and "--taught" in usage.stderr


def console(tmp_path, lines: list[str]) -> str:
    """What `tandem run` prints for these typed lines, on a copy of the fixture KB in tmp_path/kb."""
    shutil.copytree(FIXTURE_KB, tmp_path / "kb")
    env = {"TANDEM_DB": str(tmp_path / "c.db"), "TANDEM_KB": str(tmp_path / "kb"), "TANDEM_SUPPORT_HOURS": "24/7"}
    result = tandem("run", stdin="\n".join([*lines, ""]), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_console_teaches_reviews_and_drafts_from_the_taught_article(tmp_path):
    kb_dir = tmp_path / "kb"
    out = console(tmp_path, [
        "Can I pay with a gift card?",
        "/takeover 1",
        f"/reply 1 {GIFT}",
        "/teach 1",
        "/kb pending",
        "/kb approve can-i-pay-with-a-gift-card",
        "dan> Can I pay with a gift card please?",
    ])
    assert "New article `can-i-pay-with-a-gift-card`" in out
    assert "1 article(s) wait for a lead" in out and "`can-i-pay-with-a-gift-card` approved" in out
    assert out.rindex("Gift cards cannot be used") > out.index("[dan] Can I pay with a gift card please?")
    assert "approved_by" in (kb_dir / "can-i-pay-with-a-gift-card.md").read_text()


def _last_card(out: str, conversation: int) -> str:
    start = out.rindex(f"conversation #{conversation} (updated)")
    return out[start:out.index("╯", start)]


def test_the_console_card_of_a_resolved_conversation_offers_to_save_what_an_agent_wrote(tmp_path):
    out = console(tmp_path, [
        "What happens if I pay late?",  # d1: edited past recognition
        "/edit d1 We stopped charging late fees: a failed payment is simply retried after 2 days.",
        "/resolve 1",
        "dan> Can I pay with a gift card?",  # written by an agent after a takeover
        "/takeover 2",
        f"/reply 2 {GIFT}",
        "/resolve 2",
        "eve> What happens if I pay late?",  # d3: approved as drafted, nothing new to save
        "/approve d3",
        "/resolve 3",
    ])
    for conversation in (1, 2):
        card = _last_card(out, conversation)
        assert "Resolved" in card and "save it to the knowledge base?" in card  # whole, inside the frame
        assert card.rstrip("─").endswith(f"/teach {conversation} [article] ")
    card = _last_card(out, 3)
    assert "Resolved" in card and "/teach" not in card and "knowledge base" not in card
