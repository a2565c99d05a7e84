"""The HTTP boundary: forged and stale requests, malformed bodies and unexpected payloads never reach 5xx."""
from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest

from tests.fakes.slack_client import AGENT, CUSTOMER, SUPPORT, TEAM, SlackHarness

QUESTION = "Can I change my payment due date?"


@pytest.fixture
async def slack(tmp_path):
    async with SlackHarness(tmp_path) as harness:
        yield harness


def _message(**extra):
    return {"type": "message", "channel": SUPPORT, "user": CUSTOMER, "text": QUESTION, "ts": "1700000500.000100",
            "channel_type": "channel", "team": TEAM, **extra}


def _inbox(slack) -> int:
    return slack.core.store._one("select count(*) n from inbox")["n"]


async def test_forged_signature_and_stale_timestamp_get_401_and_change_nothing(slack):
    body = json.dumps({"type": "event_callback", "team_id": TEAM, "event_id": "EvForged", "event": _message()})
    assert (await slack.post(body, secret="not-the-secret"))[0] == 401
    assert (await slack.post(body, signed=False))[0] == 401
    assert (await slack.post(body, timestamp=int(time.time()) - 600))[0] == 401
    await slack.settle()
    assert _inbox(slack) == 0 and slack.api.called("chat.postMessage") == []


@pytest.mark.parametrize("timestamp, signature", [
    (None, "v0=" + "0" * 64),  # no X-Slack-Request-Timestamp at all
    ("", "v0=" + "0" * 64),
    ("abc", "v0=" + "0" * 64),
    ("12.5", "v0=" + "0" * 64),
    ("1e10", "v0=" + "0" * 64),
    ("now", None),  # a fresh timestamp, but no signature header
    ("now", "v0=é" + "0" * 62),  # a signature with non-ASCII characters
    ("now", ""),
])
async def test_a_request_without_a_usable_timestamp_or_signature_gets_401(slack, timestamp, signature, caplog):
    body = json.dumps({"type": "event_callback", "team_id": TEAM, "event_id": "EvNoTs", "event": _message()})
    headers = {"Content-Type": "application/json"}
    if timestamp is not None:
        headers["X-Slack-Request-Timestamp"] = str(int(time.time())) if timestamp == "now" else timestamp
    if signature is not None:
        headers["X-Slack-Signature"] = signature
    async with slack.session.post(slack.url + "/slack/events", data=body.encode(), headers=headers) as resp:
        assert resp.status == 401, await resp.text()
    await slack.settle()
    assert _inbox(slack) == 0
    assert [r for r in caplog.records if "rejected request" in r.getMessage()], "one log line says why"


async def test_url_verification_and_healthz(slack):
    status, text = await slack.post(json.dumps({"token": "x", "challenge": "3eZbrw1aBm2rZgRNF", "type": "url_verification"}))
    assert status == 200 and "3eZbrw1aBm2rZgRNF" in text
    async with slack.session.get(slack.url + "/healthz") as resp:
        assert resp.status == 200 and (await resp.json())["ok"] is True


@pytest.mark.parametrize("body, content_type", [
    ("{not json", "application/json"),
    ('{"type": "event_callback", "event": {"type": "mess', "application/json"),
    (urlencode({"payload": "{broken"}), "application/x-www-form-urlencoded"),
    ("", "application/json"),
    ("[]", "application/json"),
    (json.dumps({"type": "event_callback"}), "application/json"),
    (json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {"type": "message"}}), "application/json"),
    (json.dumps({"type": "block_actions", "actions": []}), "application/json"),
    (urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": AGENT}, "actions": [
        {"action_id": "somebody_elses_button", "type": "button"}]})}), "application/x-www-form-urlencoded"),
    (urlencode({"payload": json.dumps({"type": "view_closed", "user": {"id": AGENT}, "view": {}})}),
     "application/x-www-form-urlencoded"),
    (urlencode({"command": "/other", "text": "x", "user_id": AGENT}), "application/x-www-form-urlencoded"),
    (urlencode({"ssl_check": "1", "token": "x"}), "application/x-www-form-urlencoded"),
])
async def test_malformed_or_unexpected_bodies_never_5xx(slack, body, content_type):
    status, _ = await slack.post(body, content_type)
    assert status < 500


@pytest.mark.parametrize("event", [
    {"type": "reaction_added", "user": CUSTOMER, "reaction": "thumbsup", "item": {"type": "message"}},
    {"type": "app_mention", "user": CUSTOMER, "text": "<@UBOT> hi", "ts": "1.2", "channel": SUPPORT},
    {"type": "app_home_opened", "user": CUSTOMER, "channel": "D1", "tab": "home"},
    _message(subtype="bot_message", bot_id="B999", user=None),
    _message(bot_id="BBOT", user="UBOT"),
    _message(subtype="channel_join", text="<@UCUST1> has joined the channel"),
    _message(channel="COTHER123"),
    _message(user=None),
    _message(ts=None),
    _message(channel=None),
    {"type": "message", "subtype": "message_changed", "channel": SUPPORT, "message": "oops"},
    {"type": "message", "subtype": "message_deleted", "channel": SUPPORT},
])
async def test_events_that_are_not_a_person_writing_are_ignored(slack, event):
    status, _ = await slack.event(event)
    assert status == 200
    await slack.settle()
    assert _inbox(slack) == 0


async def test_edits_deletions_and_files_only(slack):
    await slack.event(_message(ts="1700000600.000100"))
    await slack.settle()
    edit = {"type": "message", "subtype": "message_changed", "hidden": True, "channel": SUPPORT,
            "channel_type": "channel", "ts": "1700000601.000100", "event_ts": "1700000601.000100",
            "message": {"type": "message", "user": CUSTOMER, "text": "Can I move my payment date?",
                        "ts": "1700000600.000100", "edited": {"user": CUSTOMER, "ts": "1700000601.000000"}},
            "previous_message": {"type": "message", "user": CUSTOMER, "text": QUESTION, "ts": "1700000600.000100"}}
    unfurl = json.loads(json.dumps(edit))
    unfurl["message"]["text"] = unfurl["previous_message"]["text"] = "same"
    delete = {"type": "message", "subtype": "message_deleted", "hidden": True, "channel": SUPPORT,
              "channel_type": "channel", "ts": "1700000602.000100", "deleted_ts": "1700000600.000100",
              "previous_message": {"type": "message", "user": CUSTOMER, "text": "Can I move my payment date?",
                                   "ts": "1700000600.000100"}}
    for event in (edit, unfurl, delete):
        assert (await slack.event(event))[0] == 200
    await slack.settle()
    assert len(slack.core.store.events_named("message_edited")) == 1
    assert len(slack.core.store.events_named("message_deleted")) == 1
    files = _message(subtype="file_share", text="", ts="1700000700.000100", files=[
        {"id": "F1", "name": "receipt.png", "mimetype": "image/png"}])
    assert (await slack.event(files))[0] == 200
    await slack.settle()
    handoffs = slack.core.store.events_named("handoff")
    assert handoffs and "attachment" in json.dumps(handoffs[-1])
    assert slack.replies(thread="1700000700.000100"), "the customer is told a person will look"


async def test_recording_failure_answers_503_so_slack_redelivers(slack):
    async def broken(event):
        raise RuntimeError("database is locked")

    slack.core.receive = broken
    status, _ = await slack.event(_message())
    assert status == 503
