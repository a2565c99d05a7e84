"""Slack translation checked on recorded payloads, not on dicts written to match our own code.

Every file under tests/fixtures/payloads/slack/ is one payload taken from bolt-python's tests or the Slack API
docs (see the file's source/license/notes and tests/fixtures/payloads/README.md), with ids adapted to the
configured support channel, agents and workspace. Each file is one test:

* Events API envelopes go through `translate_event`, the function the bolt listener calls, and the result is
  compared with `expect` (the InboundMessage fields, or the reason it was ignored). Envelopes without an inner
  event (url_verification, app_rate_limited) are also posted, signed, to the running adapter.
* block_actions, view_submission and slash commands are posted, signed, to the real bolt app the adapter builds
  (tests/fakes/slack_client.py, against the fake Web API), after a customer message has created conversation #1
  with draft #1; the test then reads what the core did through the store's audit events and messages.

A case that shows a translation bug is marked xfail(strict) below, with the file name and the reason.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from urllib.parse import urlencode

import pytest

from adapters.slack.config import SlackSettings
from adapters.slack.translate import Identity, translate_event
from tests.fakes.slack_client import (AGENT, AGENTS, BOT_ID, BOT_USER, LEAD, SECRET, SUPPORT, TEAM,
                                      SlackHarness)
from tests.payload_cases import PAYLOADS, REQUIRED, cases, load

FIXTURES = PAYLOADS / "slack"
QUESTION = "Can I change my payment due date?"
AUDITED = ("approve", "edit", "reject", "takeover", "handback", "reply", "note", "assign", "resolve", "mode")
OUTCOMES = ("command_refused", "command_unknown", "command_error")
ID_COLUMNS = {"draft": "draft_id", "conversation": "conversation_id"}

XFAIL: dict[str, str] = {}  # file stem -> why its translation is known to be wrong (none today)

ME = Identity(BOT_USER, BOT_ID, TEAM)  # what auth.test answers in the fake Web API


def settings() -> SlackSettings:
    """The same configuration SlackHarness runs the adapter with (read after conftest cleaned the env)."""
    return SlackSettings(_env_file=None, slack_bot_token="xoxb-test", slack_signing_secret=SECRET,
                         slack_support_channels=SUPPORT, slack_agent_channel=AGENTS, slack_agent_users=AGENT,
                         slack_lead_users=LEAD).check()



def kind_of(payload: dict) -> str:
    if payload.get("type") in ("block_actions", "view_submission"):
        return "interaction"
    if "command" in payload:
        return "command"
    return "envelope"


def test_inventory():
    files = sorted(FIXTURES.glob("*.json"))
    assert len(files) >= 40, f"only {len(files)} Slack payload files"
    for path in files:
        data = load(path)
        missing = [key for key in REQUIRED if not data.get(key)]
        assert not missing, f"{path.name} lacks {missing}"
        assert isinstance(data["expect"], dict) and isinstance(data["payload"], dict), path.name
    assert set(XFAIL) <= {p.stem for p in files}, "an xfail names a file that does not exist"


@pytest.mark.parametrize("path", cases(FIXTURES, XFAIL))
async def test_payload(path: Path, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    data = load(path)
    payload, expect = data["payload"], data["expect"]
    if kind_of(payload) == "envelope":
        check_translation(payload, expect)
        if "http_status" in expect:
            await check_envelope_over_http(payload, expect, tmp_path)
        return
    async with SlackHarness(tmp_path) as slack:
        await slack.say(QUESTION)
        await slack.settle()
        assert slack.core.store.pending_draft(1), "the seed message should leave draft #1 waiting for review"
        user = request_user(payload)
        body = encode(payload, slack.api.response_url(user))
        status, text = await slack.post(body, "application/x-www-form-urlencoded")
        await slack.settle()
        check_core(slack, expect, user, status, text, caplog.text)


# ---- Events API -----------------------------------------------------------------------------------------
def check_translation(body: dict, expect: dict) -> None:
    result = translate_event(body, settings(), ME)
    if "ignored" in expect:
        assert result.message is None, f"expected it ignored, got {result.message}"
        assert expect["ignored"] in result.reason
        return
    assert result.message is not None, f"expected an inbound event, ignored: {result.reason}"
    assert fields(result.message, expect) == expect


def fields(message, expect: dict) -> dict:
    """The InboundMessage as the expect block spells it, limited to the keys the file states."""
    a, author = message.address, message.author
    seen = {"kind": message.kind, "event_id": message.event_id, "text": message.text,
            "message_id": message.message_id, "attachments": message.attachments,
            "address": {"platform": a.platform, "channel": a.channel, "thread": a.thread, "workspace": a.workspace,
                        "is_dm": a.is_dm},
            "author": {"user_id": author.user_id, "role": author.role.name.lower()}}
    return {key: seen[key] for key in expect}


async def check_envelope_over_http(body: dict, expect: dict, tmp_path: Path) -> None:
    async with SlackHarness(tmp_path) as slack:
        status, text = await slack.post(json.dumps(body))
        await slack.settle()
        assert status == expect["http_status"]
        assert expect.get("http_body", "") in text
        assert slack.core.store.count_inbox("pending") + slack.core.store.count_inbox("done") == 0


# ---- interactivity and slash commands -----------------------------------------------------------------
def request_user(payload: dict) -> str:
    return (payload.get("user") or {}).get("id") or payload.get("user_id", "")


def encode(payload: dict, response_url: str) -> str:
    """Form-encode as Slack does: interactivity as payload=<json>, slash commands as plain fields."""
    payload = dict(payload)
    if "response_url" in payload:
        payload["response_url"] = response_url
    if kind_of(payload) == "command":
        return urlencode(payload)
    return urlencode({"payload": json.dumps(payload)})


def check_core(slack: SlackHarness, expect: dict, user: str, status: int, text: str, logs: str) -> None:
    store = slack.core.store
    if "http_body" in expect:
        assert expect["http_body"] in text
    if "ignored" in expect:
        assert expect["ignored"] in logs
        assert not any(store.events_named(name) for name in AUDITED + OUTCOMES), "the core was called"
        return
    assert status == 200
    if "refused" in expect or "unknown" in expect:
        action, name = ("command_refused", expect["refused"]) if "refused" in expect else \
            ("command_unknown", expect["unknown"])
        rows = [r for r in store.events_named(action) if json.loads(r["details"]).get("command") == name]
        assert rows and rows[-1]["actor"] == user, f"no {action} for {name!r} by {user}"
        assert store.draft(1).status == "pending", "a refused call must change nothing"
        return
    if "modal" in expect:
        opened = slack.api.called("views.open")
        assert opened, "Edit should open the modal"
        assert json.loads(opened[-1].params["view"]["private_metadata"])["draft"] == expect["modal"]["draft"]
        assert not store.events_named("edit")
        return
    name, args = expect["command"], expect["args"]
    if name in AUDITED:
        rows = store.events_named(name)
        assert rows, f"no {name} event: the core did not run it"
        row = rows[-1]
        assert row["actor"] == user
        for arg, value in args.items():
            if arg in ID_COLUMNS:
                assert row[ID_COLUMNS[arg]] == value, (arg, dict(row))
            else:
                sent = [m["text"] for m in store.recent_messages(row["conversation_id"])]
                assert value in sent, f"{arg}={value!r} not among {sent}"
    if "answer" in expect:
        answers = slack.answers(user)
        assert answers and expect["answer"] in answers[-1], answers
    assert not any(store.events_named(o) for o in OUTCOMES), "the call was refused or failed"
