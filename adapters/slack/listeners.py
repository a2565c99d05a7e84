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

from bot.commands import parse_button_id, parse_picker_id
from bot.emojis import name_of
from bot.ports import CoreAPI
from vocab import EditForm
from vocab.times import iso, utcnow

from .blocks import EDIT_CALLBACK, FILL_PREFIX, edit_modal, escape
from .config import SlackSettings
from .translate import Identity, Translation, actor_for, ticket_ask, ticket_message, translate_event

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

    async def ticket(body: dict[str, Any]) -> Translation:
        """A ticket reaction: the reacted message fetched (a top-level one from the channel's history, a thread
        reply from its thread), for the core to open a conversation with. A failed read is a RecordError, so
        Slack delivers the event again."""
        ask = ticket_ask(body, settings, adapter.identity, name_of(adapter.core.settings.tandem_ticket_emoji))
        if isinstance(ask, Translation):
            return ask
        try:
            page = await adapter.client.conversations_history(channel=ask.channel, latest=ask.ts, inclusive=True,
                                                              limit=1)
            found = [m for m in page.get("messages") or () if m.get("ts") == ask.ts]
            if not found:
                page = await adapter.client.conversations_replies(channel=ask.channel, ts=ask.ts, latest=ask.ts,
                                                                  inclusive=True, limit=1)
                found = [m for m in page.get("messages") or () if m.get("ts") == ask.ts]
        except Exception as exc:
            raise RecordError(f"could not read the message of ticket reaction {body.get('event_id')}: {exc}") \
                from exc
        return ticket_message(body, ask, found[0] if found else None, settings, adapter.identity)

    @app.event(re.compile(".*"))
    async def on_event(body: dict[str, Any], request, context) -> None:
        # over HTTP the server stamped when the request arrived; over Socket Mode, timing starts here
        started = (context.get(RECEIVED) if context else None) or time.perf_counter()
        retry = request.headers.get("x-slack-retry-num", [None])[0] if request else None
        event = body.get("event") if isinstance(body.get("event"), dict) else {}
        if event.get("type") == "reaction_added":
            result = await ticket(body)
        else:
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

    def chosen(action: dict[str, Any]) -> str:
        return str((action.get("selected_option") or {}).get("value") or "")

    async def on_picker(body: dict[str, Any], action: dict[str, Any], respond, conversation: int) -> None:
        """The card's saved-reply menu: send the one chosen to that conversation, as `snippet` does."""
        who, name = actor(body), chosen(action)
        log.info("slack: %s chose saved reply %r for #%s", who.user_id, name, conversation)

        async def run() -> None:
            result = await adapter.core.invoke(who, "snippet", {"name": name, "conversation": conversation},
                                               delivery=delivery(body))
            await answer(body, respond, result.text)

        adapter.spawn(run(), f"saved reply {name} to #{conversation}")

    async def on_fill(body: dict[str, Any], action: dict[str, Any], draft: int) -> None:
        """The Edit modal's saved-reply menu: the modal again, its text box filled from the one chosen."""
        who, name, view = actor(body), chosen(action), body.get("view") or {}
        log.info("slack: %s filled the edit of draft %s from saved reply %r", who.user_id, draft, name)

        async def run() -> None:
            outcome = await adapter.core.press(who, "edit", draft, delivery=delivery(body), snippet=name)
            channel = str(json.loads(view.get("private_metadata") or "{}").get("channel") or "")
            if not isinstance(outcome, EditForm):  # the draft was decided meanwhile, or the name is unknown
                if channel:  # a modal has no response_url: say it where the card is
                    await adapter.client.chat_postEphemeral(channel=channel, user=who.user_id,
                                                            text=escape(outcome.text))
                return
            modal = edit_modal(outcome.draft_id, outcome.text, channel=channel, snippets=outcome.snippets,
                               snippet=outcome.snippet, version=f"{outcome.snippet}:{action.get('action_ts', '')}")
            await adapter.client.views_update(view_id=view.get("id"), hash=view.get("hash"), view=modal)

        adapter.spawn(run(), f"fill edit of draft {draft}")

    @app.action(re.compile(r"^tandem:"))
    async def on_button(ack, body: dict[str, Any], action: dict[str, Any], respond) -> None:
        await ack()
        action_id = str(action.get("action_id", ""))
        if (conversation := parse_picker_id(action_id)) is not None:
            await on_picker(body, action, respond, conversation)
            return
        if action_id.startswith(FILL_PREFIX) and action_id[len(FILL_PREFIX):].isdigit():
            await on_fill(body, action, int(action_id[len(FILL_PREFIX):]))
            return
        parsed = parse_button_id(action_id)
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
                await adapter.client.views_open(trigger_id=body["trigger_id"], view=edit_modal(
                    outcome.draft_id, outcome.text, channel=channel, snippets=outcome.snippets))
                return
            await answer(body, respond, outcome.text)

        adapter.spawn(run(), f"button {command} {ident}")

    @app.view(EDIT_CALLBACK)
    async def on_edit_submit(ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        who = actor(body)
        block = "draft"
        try:
            meta = json.loads(view.get("private_metadata") or "{}")
            draft = int(meta["draft"])
            values = view["state"]["values"]
            block = next(b for b in values if b == "draft" or b.startswith("draft:"))  # see blocks.edit_modal
            text = values[block]["text"]["value"] or ""
        except (KeyError, TypeError, ValueError, StopIteration) as exc:
            log.warning("slack: malformed edit submission from %s: %r", who.user_id, exc)
            await ack(response_action="errors", errors={block: "This form is out of date; press Edit again."})
            return
        result = await adapter.core.invoke(who, "edit", {"draft": draft, "text": text}, delivery=delivery(body))
        log.info("slack: %s submitted edit of draft %s%s: ok=%s", who.user_id, draft,
                 f" (from saved reply {meta['snippet']})" if meta.get("snippet") else "", result.ok)
        if result.ok:
            await ack()
        else:
            await ack(response_action="errors", errors={block: result.text[:150]})

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
