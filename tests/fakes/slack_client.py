"""Slack's side of the HTTP conversation in tests: signed Events API, interactivity and slash-command requests.

`SlackHarness` runs a real core (SQLite file in tmp_path), the real SlackAdapter (bolt + aiohttp on a free
port) and the FakeSlackAPI, and sends requests shaped like Slack's, signed like Slack signs them
(v0:timestamp:body, HMAC-SHA256 with the signing secret).
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

from adapters.slack.adapter import SlackAdapter
from adapters.slack.config import SlackSettings
from bot.config import load_settings
from tandem.runtime import build_core
from tests.fakes.slack_api import BOT_ID, BOT_USER, TEAM, FakeSlackAPI

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SUPPORT, AGENTS, DM = "CSUPPORT1", "CAGENTS1", "DCUSTOMER1"
CUSTOMER, AGENT, LEAD, STRANGER = "UCUST1", "UAGENT1", "ULEAD1", "USTRANGER1"
FORM = "application/x-www-form-urlencoded"
_TRIGGERS = itertools.count(1)  # one sequence for every harness in the run
_EVENTS = itertools.count(1)
KB = Path(__file__).resolve().parent.parent / "fixtures" / "kb"


def sign(body: str, timestamp: str, secret: str = SECRET) -> str:
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return f"v0={digest}"


def shown(text: str) -> str:
    """Slack's three escapes as the reader sees them (https://api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class SlackHarness:
    def __init__(self, tmp_path: Path, drafter: Any = None, core: dict[str, Any] | None = None, *,
                 api: FakeSlackAPI | None = None, clock: Any = None, **overrides: Any):
        """`core`: core settings (tandem_*, openai_*); `api`: a FakeSlackAPI already started, shared with another
        harness (a restart on the same Slack); `clock`: the store's clock (tests travel in time); `overrides` are
        Slack settings."""
        self.clock = clock
        self.tmp_path = tmp_path
        self.drafter = drafter
        self.core_overrides = core or {}  # core settings (tandem_*, openai_*); `overrides` are Slack settings
        self.overrides = overrides
        self.own_api = api is None
        self.api = api or FakeSlackAPI()
        self._ids = _EVENTS  # event ids, like trigger ids, are never repeated by a later harness
        self._ts = itertools.count(1)

    async def __aenter__(self) -> "SlackHarness":
        if self.own_api:
            await self.api.start()
        core_settings = load_settings(env_file=None, **{"tandem_db": str(self.tmp_path / "t.db"), "tandem_kb": str(KB),
                                                        **self.core_overrides})
        self.core = build_core(core_settings, drafter=self.drafter, clock=self.clock)
        settings = SlackSettings(_env_file=None, **{
            "slack_bot_token": "xoxb-test", "slack_signing_secret": SECRET, "slack_api_url": self.api.base_url,
            "slack_support_channels": SUPPORT, "slack_agent_channel": AGENTS, "slack_agent_users": AGENT,
            "slack_lead_users": LEAD, "tandem_http_port": 0, **self.overrides}).check()
        self.adapter = SlackAdapter(settings)
        self.session = aiohttp.ClientSession()
        await self.core.start()
        self.core.register(self.adapter)
        await self.adapter.start(self.core)
        self.url = f"http://127.0.0.1:{self.adapter.port}" if self.adapter.port else ""
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.session.close()
        await self.adapter.stop()
        await self.core.stop()
        if self.own_api:
            await self.api.stop()

    async def settle(self) -> None:
        """Let the adapter's follow-ups and the core's processing, drafting and outbox finish."""
        for _ in range(3):
            await self.adapter.idle()
            await self.core.wait_idle()

    # ---- raw requests ------------------------------------------------------------------------------------
    async def post(self, body: str, content_type: str = "application/json", *, signed: bool = True,
                   timestamp: int | None = None, headers: dict[str, str] | None = None,
                   secret: str = SECRET) -> tuple[int, str]:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        hdrs = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts}
        if signed:
            hdrs["X-Slack-Signature"] = sign(body, ts, secret)
        hdrs.update(headers or {})
        async with self.session.post(self.url + "/slack/events", data=body.encode(), headers=hdrs) as resp:
            return resp.status, await resp.text()

    # ---- Slack-shaped payloads ---------------------------------------------------------------------------
    def new_ts(self) -> str:
        return f"1700001{next(self._ts):03d}.000200"

    async def event(self, event: dict[str, Any], *, event_id: str | None = None, retry: int | None = None,
                    team: str = TEAM) -> tuple[int, str]:
        envelope = {"token": "legacy", "team_id": team, "api_app_id": "A0TANDEM", "event": event,
                    "type": "event_callback", "event_id": event_id or f"Ev{next(self._ids):06d}",
                    "event_time": int(time.time()), "authorizations": [{"team_id": team, "user_id": BOT_USER,
                                                                          "is_bot": True}]}
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else None
        return await self.post(json.dumps(envelope), headers=headers)

    async def say(self, text: str, *, user: str = CUSTOMER, channel: str = SUPPORT, thread: str | None = None,
                  **extra: Any) -> str:
        """A person writes; returns the message ts."""
        ts = self.new_ts()
        event = {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts, "team": TEAM,
                 "event_ts": ts, "channel_type": "im" if channel.startswith("D") else "channel", **extra}
        if thread:
            event["thread_ts"] = thread
        status, _ = await self.event(event)
        assert status == 200
        return ts

    def written(self, text: str, *, user: str = CUSTOMER, channel: str = "CGENERAL1", thread: str | None = None) -> str:
        """A person's message the bot was not sent (a channel it does not serve), readable through
        conversations.history/replies; returns its ts."""
        ts = self.new_ts()
        message = {"type": "message", "user": user, "text": text, "ts": ts, "team": TEAM}
        if thread:
            message["thread_ts"] = thread
        self.api.messages.setdefault(channel, []).append(message)
        return ts

    async def react(self, ts: str, *, user: str = AGENT, channel: str = "CGENERAL1", reaction: str = "ticket",
                    author: str = CUSTOMER) -> tuple[int, str]:
        """Slack's `reaction_added` event: `user` reacted with `reaction` to the message `ts`."""
        return await self.event({"type": "reaction_added", "user": user, "reaction": reaction, "item_user": author,
                                 "item": {"type": "message", "channel": channel, "ts": ts},
                                 "event_ts": self.new_ts()})

    def trigger_id(self) -> str:
        """Slack gives every command, click and submission its own trigger_id, also after a restart (a harness on
        the same database must not repeat one: the core would take it for a replay)."""
        return f"13345224609.{next(_TRIGGERS)}.8088930838d88f008e0"

    def press_body(self, action_id: str, *, user: str = AGENT, channel: str = AGENTS) -> str:
        payload = {
            "type": "block_actions", "user": {"id": user, "username": user.lower(), "team_id": TEAM},
            "api_app_id": "A0TANDEM", "token": "legacy", "trigger_id": self.trigger_id(),
            "team": {"id": TEAM, "domain": "acme"}, "container": {"type": "message", "channel_id": channel,
                                                                  "message_ts": "1700000000.000100"},
            "channel": {"id": channel, "name": "agents"}, "response_url": self.api.response_url(user),
            "actions": [{"action_id": action_id, "block_id": "tandem:card:1", "type": "button",
                         "value": action_id.rsplit(":", 1)[-1], "action_ts": "1700000000.5",
                         "text": {"type": "plain_text", "text": "x"}}],
        }
        return urlencode({"payload": json.dumps(payload)})

    async def press(self, action_id: str, *, user: str = AGENT, channel: str = AGENTS) -> tuple[int, str]:
        return await self.post(self.press_body(action_id, user=user, channel=channel), FORM)

    def select_body(self, menu: dict[str, Any], value: str, *, user: str = AGENT, channel: str = AGENTS,
                    view: dict[str, Any] | None = None) -> str:
        """block_actions for a static_select choice, as Slack sends it: on a message (the card), or inside an
        open modal (`view`: then no channel and no response_url, and the view with its id and hash)."""
        option = next(o for o in menu["options"] if o["value"] == value)
        action = {"type": "static_select", "action_id": menu["action_id"], "block_id": "b",
                  "selected_option": option, "placeholder": menu.get("placeholder"), "action_ts": "1700000001.7"}
        payload: dict[str, Any] = {
            "type": "block_actions", "user": {"id": user, "username": user.lower(), "team_id": TEAM},
            "api_app_id": "A0TANDEM", "token": "legacy", "trigger_id": self.trigger_id(),
            "team": {"id": TEAM, "domain": "acme"}, "actions": [action]}
        if view is None:
            payload |= {"container": {"type": "message", "channel_id": channel, "message_ts": "1700000000.000100"},
                        "channel": {"id": channel, "name": "agents"}, "response_url": self.api.response_url(user)}
        else:
            payload |= {"container": {"type": "view", "view_id": view["id"]}, "view": view}
        return urlencode({"payload": json.dumps(payload)})

    async def select(self, menu: dict[str, Any], value: str, *, user: str = AGENT,
                     view: dict[str, Any] | None = None) -> tuple[int, str]:
        return await self.post(self.select_body(menu, value, user=user, view=view), FORM)

    def menus(self, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The static_select menus among the blocks' action elements."""
        return [el for block in blocks if block.get("type") == "actions" for el in block.get("elements", [])
                if el.get("type") == "static_select"]

    def edit_body(self, view: dict[str, Any], text: str, *, user: str = AGENT) -> str:
        block = next((b["block_id"] for b in view.get("blocks", []) if b.get("type") == "input"), "draft")
        view = dict(view, id=view.get("id", "V0001"),
                    state={"values": {block: {"text": {"type": "plain_text_input", "value": text}}}})
        payload = {"type": "view_submission", "team": {"id": TEAM, "domain": "acme"},
                   "user": {"id": user, "username": user.lower(), "team_id": TEAM}, "api_app_id": "A0TANDEM",
                   "token": "legacy", "trigger_id": self.trigger_id(), "view": view, "response_urls": []}
        return urlencode({"payload": json.dumps(payload)})

    async def submit_edit(self, view: dict[str, Any], text: str, *, user: str = AGENT) -> tuple[int, str]:
        return await self.post(self.edit_body(view, text, user=user), FORM)

    def command_body(self, text: str, *, user: str = AGENT, channel: str = AGENTS) -> str:
        form = {"token": "legacy", "team_id": TEAM, "team_domain": "acme", "channel_id": channel,
                "channel_name": "agents", "user_id": user, "user_name": user.lower(), "command": "/tandem",
                "text": text, "api_app_id": "A0TANDEM", "response_url": self.api.response_url(user),
                "trigger_id": self.trigger_id()}
        return urlencode(form)

    async def command(self, text: str, *, user: str = AGENT, channel: str = AGENTS) -> tuple[int, str]:
        return await self.post(self.command_body(text, user=user, channel=channel), FORM)

    # ---- reading what Tandem did -------------------------------------------------------------------------
    def cards(self) -> list[dict[str, Any]]:
        return [c.params for c in self.api.called("chat.postMessage") if c.params.get("channel") == AGENTS]

    def raw_replies(self, thread: str | None = None, channel: str = SUPPORT) -> list[str]:
        """The `text` of each chat.postMessage to the channel, as the adapter sent it (mrkdwn, escaped)."""
        return [c.params.get("text", "") for c in self.api.called("chat.postMessage")
                if c.params.get("channel") == channel and (thread is None or c.params.get("thread_ts") == thread)]

    def replies(self, thread: str | None = None, channel: str = SUPPORT) -> list[str]:
        """What Slack shows of each message: its escapes (&lt; &gt; &amp;) read back as characters."""
        return [shown(t) for t in self.raw_replies(thread, channel)]

    def answers(self, user: str = AGENT) -> list[str]:
        return [shown(c.params.get("text", "")) for c in self.api.called("response_url")
                if c.params.get("key") == user]

    def buttons(self, blocks: list[dict[str, Any]]) -> dict[str, str]:
        """command -> action_id of the card's buttons."""
        out = {}
        for block in blocks:
            for el in block.get("elements", []) if block.get("type") == "actions" else []:
                if el.get("type") == "button":
                    out[el["action_id"].split(":")[1]] = el["action_id"]
        return out

    def latest_card_blocks(self) -> list[dict[str, Any]]:
        calls = [c for c in self.api.calls if c.status == 200 and c.method in ("chat.postMessage", "chat.update")
                 and c.params.get("channel") == AGENTS and "blocks" in c.params]  # not a notice in its thread
        return calls[-1].params["blocks"]


__all__ = ["SlackHarness", "sign", "SECRET", "SUPPORT", "AGENTS", "DM", "CUSTOMER", "AGENT", "LEAD", "STRANGER",
           "BOT_USER", "BOT_ID", "TEAM", "FORM"]
