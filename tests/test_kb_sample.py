"""The bundled Tandem Pay sample KB loads and answers typical questions; off-topic ones fall below the threshold."""
import csv
from pathlib import Path

import pytest
from rapidfuzz import fuzz, utils

from bot.config import Settings
from bot.drafting.base import DraftRequest
from bot.drafting.retrieval import KBDrafter
from bot.kb import load_kb

THRESHOLD = Settings.model_fields["tandem_handoff_threshold"].default


@pytest.fixture(scope="module")
def drafter():
    return KBDrafter(load_kb())


def test_bundled_kb_loads():
    arts = load_kb()
    assert len(arts) >= 18
    for a in arts:
        assert 8 <= len(a.questions) <= 25, a.id  # English and Indonesian examples together
        assert len(a.answer) > 80, a.id
    sensitive = {a.id for a in arts if a.handoff}
    assert {"fraud-unrecognised-charge", "hardship", "refund-dispute"} <= sensitive


@pytest.mark.parametrize("question, article", [
    ("how does pay in four work?", "how-pay-in-4-works"),
    ("can I move my payment date to next friday", "change-payment-date"),
    ("my card expired, how do I put in the new one", "update-card"),
    ("can i cancel my order", "cancel-order"),
    ("I forgot my password and can't log in", "login-2fa"),
    ("kapan jatuh tempo saya?", "payment-schedule"),
])
def test_typical_questions_pick_the_right_article(drafter, question, article):
    res = drafter.answer(question)
    assert res.sources[0].id == article
    assert res.confidence >= THRESHOLD
    assert not res.needs_human


HELD_OUT = [Path(__file__).parent / "fixtures" / "sample_kb_eval_id.csv"]


def test_no_example_question_copies_a_held_out_indonesian_question():
    """bench/language.py scores the sample KB on questions written apart from it: none of the KB's examples may be
    one of them, or a near copy (rapidfuzz ratio after lower-casing and dropping punctuation)."""
    with HELD_OUT[0].open(newline="") as f:
        held_out = [row["question"] for row in csv.DictReader(f)]
    examples = [q for a in load_kb() for q in a.questions]
    copies = [(q, h, round(score)) for q in examples for h in held_out
              if (score := fuzz.ratio(q, h, processor=utils.default_process)) >= 85]
    assert not copies


@pytest.mark.parametrize("question, article", [
    ("gmn caranya ganti tgl jatuh tempo?", "change-payment-date"),
    ("kartu sy udh gk aktif, mau pasang kartu baru", "update-card"),
    ("knp pembayaran sy ditolak mulu?", "declined-purchase"),
    ("sy blm terima paketnya", "order-not-arrived"),
])
def test_informal_indonesian_with_chat_abbreviations(drafter, question, article):
    res = drafter.answer(question)
    assert res.sources[0].id == article and res.language == "id"


@pytest.mark.parametrize("question", ["what's the weather in Paris", "who won the football game last night"])
def test_off_topic_falls_below_the_handoff_threshold(drafter, question):
    assert drafter.answer(question).confidence < THRESHOLD


async def test_sensitive_article_asks_for_a_person(drafter):
    res = await drafter.draft(DraftRequest(conversation_id=1, question="there is a charge I don't recognise"))
    assert res.sources[0].id == "fraud-unrecognised-charge"
    assert res.needs_human and res.reason == "sensitive_topic"
    assert res.drafter == "kb"


def test_eval_on_the_bundled_kb_by_default():
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from tandem.kb_cli import kb

    csv = Path(__file__).parent / "fixtures" / "sample_kb_eval.csv"
    res = CliRunner().invoke(kb, ["eval", str(csv), "--text-col", "question", "--label-col", "article",
                                  "--oos-label", "oos", "--quiet", "--threshold", str(THRESHOLD)])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["articles"] == len(load_kb())
    assert report["top1_accuracy"] >= 0.8 and report["handoff_recall"] == 1.0
