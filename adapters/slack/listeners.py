"""Bolt listeners: Slack events, review-card buttons, the Edit modal and the slash command, mapped to the core.

Events are recorded (`core.receive`) before bolt acknowledges them (the app runs with process_before_response),
and nothing here drafts. Buttons and commands are acknowledged first; the core call and the ephemeral answer
run in a background task so Slack's 3-second limit holds whatever the core is doing.
Who may do what is the core's decision (bot/commands.py); the adapter only maps the Slack user to a role.
Each command, click and submission is passed to the core with its delivery key (the trigger_id Slack gives
every one of them), so the same request posted again, by Slack or by anyone holding a signed body, runs once.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Coroutine
from typing import Any, Protocol

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands import parse_button_id
from bot.ports import CoreAPI
from vocab import EditForm
from vocab.times import iso, utcnow

from .blocks import EDIT_CALLBACK, edit_modal, escape
from .config import SlackSettings
from .translate import Identity, actor_for, translate_event

log = logging.getLogger(__name__)
RECEIVED = "tandem_received"  # bolt context key: time.perf_counter() when the HTTP request arrived


class RecordError(Exception):
    """core.receive failed: nothing was recorded, so Slack should redeliver (the only 5xx we answer)."""


class Host(Protocol):
    """What the listeners need of the adapter that registers them (SlackAdapter)."""

    settings: SlackSettings
    identity: Identity
    client: AsyncWebClient
    core: CoreAPI
    last_event_at: str | None

    def spawn(self, coro: Coroutine[Any, Any, None], what: str) -> Any: ...


def register(app: AsyncApp, adapter: Host) -> None:
    settings = adapter.settings

    def actor(body: dict[str, Any]):
        user = body.get("user") or {}
        uid = user.get("id") or body.get("user_id") or ""
        team = user.get("team_id") or body.get("user_team_id") or ""
        return actor_for(uid, settings, team=team, home=adapter.identity.team_id)

    def delivery(body: dict[str, Any]) -> str:
        team = (body.get("team") or {}).get("id") if isinstance(body.get("team"), dict) else body.get("team_id")
        trigger = body.get("trigger_id")
        if trigger:
            return f"slack:{team or ''}:{trigger}"
        return "slack:body:" + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()

    async def answer(body: dict[str, Any], respond, text: str) -> None:
        text = escape(text)  # the core's answer is plain text: nothing in it is Slack syntax
        if body.get("response_url"):
            await respond(text=text, response_type="ephemeral", replace_original=False)
            return
        channel = (body.get("channel") or {}).get("id") or body.get("channel_id")
        user = (body.get("user") or {}).get("id") or body.get("user_id")
        if channel and user:
            await adapter.client.chat_postEphemeral(channel=channel, user=user, text=text)

    @app.event(re.compile(".*"))
    async def on_event(body: dict[str, Any], request, context) -> None:
        # over HTTP the server stamped when the request arrived; over Socket Mode, timing starts here
        started = (context.get(RECEIVED) if context else None) or time.perf_counter()
        retry = request.headers.get("x-slack-retry-num", [None])[0] if request else None
        result = translate_event(body, settings, adapter.identity)
        if result.message is None:
            level = logging.DEBUG if result.quiet else logging.INFO
            log.log(level, "slack: ignored event %s: %s", body.get("event_id"), result.reason)
            return
        try:
            receipt = await adapter.core.receive(result.message)
            adapter.core.metrics.observe_ack("slack", time.perf_counter() - started)
            adapter.last_event_at = iso(utcnow())
        except Exception as exc:
            raise RecordError(f"could not record event {body.get('event_id')}: {exc}") from exc
        msg = result.message
        log.info("slack: %s event %s (%s) in %s/%s by %s role=%s%s", "duplicate" if receipt.duplicate else "recorded",
                 msg.event_id, msg.kind, msg.address.channel, msg.address.thread or "dm", msg.author.user_id,
                 msg.author.role.name, f" retry={retry}" if retry else "")

    @app.action(re.compile(r"^tandem:"))
    async def on_button(ack, body: dict[str, Any], action: dict[str, Any], respond) -> None:
        await ack()
        parsed = parse_button_id(str(action.get("action_id", "")))
        who = actor(body)
        if parsed is None:
            log.warning("slack: unknown button %r pressed by %s", action.get("action_id"), who.user_id)
            return
        command, ident = parsed
        log.info("slack: %s pressed %s on #%s", who.user_id, command, ident)

        async def run() -> None:
            outcome = await adapter.core.press(who, command, ident, delivery=delivery(body))
            if isinstance(outcome, EditForm):
                channel = (body.get("channel") or {}).get("id", "")
                await adapter.client.views_open(trigger_id=body["trigger_id"],
                                                view=edit_modal(outcome.draft_id, outcome.text, channel=channel))
                return
            await answer(body, respond, outcome.text)

        adapter.spawn(run(), f"button {command} {ident}")

    @app.view(EDIT_CALLBACK)
    async def on_edit_submit(ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        who = actor(body)
        try:
            draft = int(json.loads(view.get("private_metadata") or "{}")["draft"])
            text = view["state"]["values"]["draft"]["text"]["value"] or ""
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("slack: malformed edit submission from %s: %s", who.user_id, exc)
            await ack(response_action="errors", errors={"draft": "This form is out of date; press Edit again."})
            return
        result = await adapter.core.invoke(who, "edit", {"draft": draft, "text": text}, delivery=delivery(body))
        log.info("slack: %s submitted edit of draft %s: ok=%s", who.user_id, draft, result.ok)
        if result.ok:
            await ack()
        else:
            await ack(response_action="errors", errors={"draft": result.text[:150]})

    @app.command(settings.slack_command)
    async def on_command(ack, body: dict[str, Any], respond) -> None:
        await ack()
        who = actor(body)
        line = (body.get("text") or "").strip() or "help"
        log.info("slack: %s ran %s %s", who.user_id, settings.slack_command, line.split(" ", 1)[0])

        async def run() -> None:
            result = await adapter.core.execute(who, line, delivery=delivery(body))
            await answer(body, respond, result.text)

        adapter.spawn(run(), f"command {line.split(' ', 1)[0]}")
