"""The LLM drafter through the real `openai` client and the real core, against a fake endpoint on 127.0.0.1.

Whatever the model does (answers, stalls, errors, talks nonsense, asks for a person), the customer's message
is kept and either becomes a reviewable draft or a handoff with the reason, and the customer is told.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from tandem.ask import ask_once
from bot.drafting.base import DrafterError
from bot.drafting.llm import parse_reply
from vocab import State
from tests.conftest import FIXTURE_KB, conv_of, make_settings, say, start_core
from tests.fakes.openai_server import MODEL, Behaviour, FakeOpenAI, answer, customer_text

ROOT = Path(__file__).resolve().parent.parent
PAY_IN_4 = "Pay in 4 splits your purchase into four equal payments"


@pytest.fixture
async def fake():
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def llm_core(tmp_path, fake, clock):
    settings = make_settings(tmp_path, openai_base_url=fake.base_url, openai_api_key="test",
                             tandem_llm_timeout=2.0, tandem_llm_model="support-model")
    core = await start_core(settings, clock)
    yield core
    await core.stop()
    await core.drafter.aclose()  # its HTTP client, closed on this loop (not by a later test's garbage collection)


def handoffs(core, conv_id):
    return [json.loads(e["details"]) for e in core.store.events_for(conv_id) if e["action"] == "handoff"]


def drafts(core, conv_id):
    return core.store._all("SELECT * FROM drafts WHERE conversation_id = ? ORDER BY id", (conv_id,))


def assert_handed_off(core, reason: str, question: str) -> dict:
    """The conversation waits for a person, the customer's message is logged and the customer was told."""
    conv = conv_of(core)
    assert conv.state == State.WAITING_HUMAN and conv.handoff_reason == reason
    messages = core.store.recent_messages(conv.id)
    assert [m["text"] for m in messages if m["author_kind"] == "customer"] == [question]
    assert any("A person from our team will answer you here" in t for t in core.test_adapter.texts())
    events = handoffs(core, conv.id)
    assert len(events) == 1 and events[0]["reason"] == reason
    return events[0]


async def test_answer_becomes_a_grounded_pending_draft(llm_core, fake):
    fake.reply("Pay in 4: four equal payments, the first at checkout.", confidence=0.82)
    await say(llm_core, "How does pay in 4 work?")
    conv = conv_of(llm_core)
    assert conv.state == State.BOT
    draft = llm_core.store.pending_draft(conv.id)
    assert draft.text == "Pay in 4: four equal payments, the first at checkout."
    assert draft.confidence == pytest.approx(0.82)
    row = drafts(llm_core, conv.id)[0]
    assert row["drafter"] == "llm" and row["model"] == MODEL
    assert draft.source_list[0].id == "pay-in-4"
    card = llm_core.test_adapter.cards[-1].card
    assert card.draft_text == draft.text and card.sources[0].id == "pay-in-4"
    assert llm_core.test_adapter.sent == []  # review mode: nothing sent before approval

    (request,) = fake.requests
    assert request.model == "support-model"
    assert request.response_format == {"type": "json_object"}
    assert PAY_IN_4 in request.system  # grounded on the top KB article
    assert "English" in request.system
    assert request.last_customer == "How does pay in 4 work?"


async def test_indonesian_question_asks_for_an_indonesian_reply(llm_core, fake):
    fake.reply("Anda bisa mengubah tanggal pembayaran sekali per pesanan.", confidence=0.8)
    question = "Bagaimana saya bisa mengubah tanggal pembayaran cicilan saya?"
    await say(llm_core, question)
    (request,) = fake.requests
    assert "Indonesian" in request.system
    assert request.last_customer == question
    assert llm_core.store.pending_draft(conv_of(llm_core).id).text.startswith("Anda bisa")


async def test_history_is_sent_oldest_first(llm_core, fake):
    await say(llm_core, "How does pay in 4 work?")
    await say(llm_core, "is there a late fee")
    roles = [(m["role"], customer_text(m["content"])) for m in fake.requests[-1].messages[1:]]
    assert roles == [("user", "How does pay in 4 work?"), ("user", "is there a late fee")]


@pytest.mark.parametrize("behaviour", [
    Behaviour(delay=8.0),  # nothing at all until long after the timeout
    Behaviour(trickle=8.0),  # headers at once, then the body a few bytes at a time: still too slow overall
], ids=["silent", "trickle"])
async def test_slow_model_is_a_drafter_error_handoff(llm_core, fake, behaviour):
    fake.script(behaviour)
    await say(llm_core, "How does pay in 4 work?")  # TANDEM_LLM_TIMEOUT=2 ends the wait, not the model
    event = assert_handed_off(llm_core, "drafter_error", "How does pay in 4 work?")
    assert "timed out" in event["detail"]
    (row,) = drafts(llm_core, conv_of(llm_core).id)
    assert row["status"] == "failed" and row["handoff_reason"] == "drafter_error"


@pytest.mark.parametrize("status", [500, 503, 429, 401])
async def test_http_error_is_a_handoff_naming_the_status(llm_core, fake, status):
    fake.script(Behaviour(status=status))
    await say(llm_core, "How does pay in 4 work?")
    event = assert_handed_off(llm_core, "drafter_error", "How does pay in 4 work?")
    assert f"HTTP {status}" in event["detail"]
    assert drafts(llm_core, conv_of(llm_core).id)[0]["status"] == "failed"
    assert len(fake.requests) == 1  # max_retries=0: the core decides, the client does not retry


MALFORMED = {
    "not_json": Behaviour(content="Sure! Pay in 4 is great."),
    "no_reply": Behaviour(content=json.dumps({"answer": "hi", "confidence": 0.9})),
    "reply_not_text": Behaviour(content=json.dumps({"reply": ["hi"], "confidence": 0.9})),
    "confidence_too_high": Behaviour(content=answer("Hi", confidence=7)),
    "confidence_negative": Behaviour(content=answer("Hi", confidence=-0.1)),
    "confidence_not_number": Behaviour(content=json.dumps({"reply": "Hi", "confidence": "high"})),
    "confidence_bool": Behaviour(content=json.dumps({"reply": "Hi", "confidence": True})),
    "json_array": Behaviour(content="[1, 2]"),
    "empty_content": Behaviour(content=""),
    "null_content": Behaviour(content=None),
    "empty_choices": Behaviour(choices=False),
    "html_page": Behaviour(raw_body="<html><body>Bad gateway</body></html>"),
}


@pytest.mark.parametrize("behaviour", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_output_is_a_handoff(llm_core, fake, behaviour):
    fake.script(behaviour)
    await say(llm_core, "How does pay in 4 work?")
    event = assert_handed_off(llm_core, "drafter_error", "How does pay in 4 work?")
    assert event["detail"].startswith(("malformed model output", "the model endpoint")), event["detail"]
    assert drafts(llm_core, conv_of(llm_core).id)[0]["status"] == "failed"


async def test_model_asking_for_a_person_is_a_low_confidence_handoff(llm_core, fake):
    fake.reply("I'm not sure about this one.", confidence=0.9, needs_human=True, reason="not in the articles")
    await say(llm_core, "How does pay in 4 work?")
    assert_handed_off(llm_core, "low_confidence", "How does pay in 4 work?")
    (row,) = drafts(llm_core, conv_of(llm_core).id)
    assert row["status"] == "pending" and row["text"] == "I'm not sure about this one."  # kept for the agent


async def test_low_confidence_answer_is_a_handoff(llm_core, fake):
    fake.reply("Maybe four payments?", confidence=0.2)
    await say(llm_core, "How does pay in 4 work?")
    assert_handed_off(llm_core, "low_confidence", "How does pay in 4 work?")


async def test_sensitive_article_hands_off_even_if_the_model_is_sure(llm_core, fake):
    fake.reply("No worries, that charge is fine.", confidence=0.99)
    await say(llm_core, "There is a charge I don't recognise")
    assert_handed_off(llm_core, "sensitive_topic", "There is a charge I don't recognise")


async def test_the_model_recovers_after_a_failure(llm_core, fake):
    fake.script(Behaviour(status=500))
    await say(llm_core, "How does pay in 4 work?", who="dan")
    fake.reply("Four equal payments.", confidence=0.9)
    await say(llm_core, "How does pay in 4 work?", who="eve")
    assert conv_of(llm_core, "dan").state == State.WAITING_HUMAN
    assert llm_core.store.pending_draft(conv_of(llm_core, "eve").id).text == "Four equal payments."


@pytest.mark.parametrize("text,needs_human", [("true", True), ("false", False), ("no", False), (1, True)])
def test_needs_human_given_as_text_is_read_as_meant(text, needs_human):
    content = json.dumps({"reply": "Hi", "confidence": 0.9, "needs_human": text})
    assert parse_reply(content)["needs_human"] is needs_human


def test_reply_wrapped_in_a_code_fence_is_accepted():
    assert parse_reply("```json\n" + answer("Hi", 0.7) + "\n```")["reply"] == "Hi"
    with pytest.raises(DrafterError):
        parse_reply(json.dumps({"reply": "Hi", "confidence": float("nan")}))


async def test_tandem_ask_json_through_the_fake(fake, tmp_path):
    fake.reply("Four equal payments, every two weeks.", confidence=0.9)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TANDEM_", "OPENAI_"))}
    env.update(OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY="test", TANDEM_KB=str(FIXTURE_KB),
               TANDEM_DB=str(tmp_path / "ask.db"), TANDEM_LLM_TIMEOUT="5", PYTHONPATH=str(ROOT))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tandem.cli", "ask", "How does pay in 4 work?", "--json",
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    report = json.loads(out)
    assert report["decision"] == "review" and report["reason"] is None
    assert report["confidence"] == pytest.approx(0.9)
    assert report["drafter"] == "llm" and report["model"] == MODEL
    assert report["answer"] == "Four equal payments, every two weeks."
    assert report["sources"][0]["id"] == "pay-in-4"
    assert fake.requests[0].last_customer == "How does pay in 4 work?"


async def test_ask_reports_a_failing_model_as_a_handoff(fake, tmp_path):
    fake.script(Behaviour(status=500))
    report = await ask_once(make_settings(tmp_path, openai_base_url=fake.base_url), "How does pay in 4 work?")
    assert report["decision"] == "handoff" and report["reason"] == "drafter_error"
    assert "HTTP 500" in report["error"]


async def test_stopping_tandem_closes_the_model_client(tmp_path, fake):
    """`serve` owns the drafter's lifetime: when Tandem stops, the OpenAI client's connection pool is closed."""
    from tandem.runtime import build_core, serve

    settings = make_settings(tmp_path, openai_base_url=fake.base_url, openai_api_key="test",
                             tandem_llm_model="support-model")
    core = build_core(settings)
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_later(0.2, stop.set_result, None)
    await serve(core, [], until=stop)
    assert core.drafter.client.is_closed()
