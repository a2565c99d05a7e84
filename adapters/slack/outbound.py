"""Outbound Slack calls: the Web API client with retries, and delivery of the core's actions.

slack_sdk's own retry handlers absorb short 429s (honouring Retry-After) and 500/503s; when they give up the
error becomes a DeliveryError so the core's outbox keeps the action and retries later (never dropped).
Errors that retrying cannot fix (channel_not_found, invalid_auth...) are DeliveryError(retry=False).

Every message posted carries the outbox row's key in its message metadata (event_type `tandem_outbox`), so
`find_delivered` can tell, from the conversation's recent messages, whether a row that was in flight when the
last process died reached Slack, and which parts of a long message did.
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from vocab import Delivery, DeliveryError, NotifyAgents, PostReport, React, SendMessage, UpsertCard
from bot.ports import route, send_parts

from .blocks import card_blocks, mentions_of, render, report_blocks, split_message
from .config import SlackSettings

log = logging.getLogger(__name__)
MAX_INLINE_WAIT = 10  # seconds: a longer Retry-After goes back to the outbox instead of blocking a worker
HOPELESS = {
    "channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "not_authed", "account_inactive",
    "token_revoked", "token_expired", "no_permission", "missing_scope", "restricted_action", "msg_too_long",
    "no_text", "invalid_blocks", "invalid_arguments", "user_not_found", "team_access_not_granted",
    "message_not_found", "invalid_name", "too_many_reactions",
}
GONE = {"message_not_found", "cant_update_message", "edit_window_closed"}
EVENT_TYPE = "tandem_outbox"
LOOK_BACK = 200  # recent messages searched for an in-flight row (it was posted moments before the crash)


def metadata(key: str, part: int = 0) -> dict | None:
    return {"event_type": EVENT_TYPE, "event_payload": {"outbox": key, "part": part}} if key else None


def parts_found(messages: list[dict], key: str) -> dict[int, str]:
    """part number -> ts of the messages posted under `key`."""
    found: dict[int, str] = {}
    for message in messages:
        meta = message.get("metadata") or {}
        payload = meta.get("event_payload") or {}
        if meta.get("event_type") == EVENT_TYPE and payload.get("outbox") == key:
            try:
                found.setdefault(int(payload.get("part", 0)), str(message.get("ts", "")))
            except (TypeError, ValueError):
                continue
    return found


def _retry_after(headers: object) -> float | None:
    try:
        for key, value in dict(headers or {}).items():  # type: ignore[call-overload]
            if key.lower() == "retry-after":
                return float(value[0] if isinstance(value, list) else value)
    except (TypeError, ValueError):
        return None
    return None


class CappedRateLimitHandler(AsyncRateLimitErrorRetryHandler):
    """Wait out short rate limits in place; leave long ones to the outbox (which honours retry_after)."""

    async def _can_retry_async(self, *, state, request, response=None, error=None) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = _retry_after(response.headers)
        return wait is None or wait <= MAX_INLINE_WAIT


def retry_handlers() -> list[AsyncRetryHandler]:
    return [AsyncConnectionErrorRetryHandler(max_retry_count=2), CappedRateLimitHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=2)]


def make_client(settings: SlackSettings) -> AsyncWebClient:
    return AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url,
                          retry_handlers=retry_handlers(), timeout=20)


def delivery_error(exc: Exception, what: str) -> DeliveryError:
    """Classify a failed Web API call for the outbox."""
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", 0)
        data = exc.response.data if isinstance(getattr(exc.response, "data", None), dict) else {}
        error = str(data.get("error") or f"HTTP {status}")
        if status == 429:
            return DeliveryError(f"{what}: rate limited", retry=True, retry_after=_retry_after(exc.response.headers))
        if error in HOPELESS and status < 500:
            return DeliveryError(f"{what}: {error}", retry=False)
        return DeliveryError(f"{what}: {error}", retry=True)
    if isinstance(exc, (SlackClientError, aiohttp.ClientError, asyncio.TimeoutError, OSError)):
        return DeliveryError(f"{what}: {type(exc).__name__}: {exc}", retry=True)
    return DeliveryError(f"{what}: unexpected {type(exc).__name__}: {exc}", retry=True)


class Outbound:
    """Delivers SendMessage, UpsertCard and PostReport through one AsyncWebClient."""

    def __init__(self, client: AsyncWebClient, settings: SlackSettings):
        self.client = client
        self.settings = settings
        self.people = frozenset(settings.slack_agent_users) | frozenset(settings.slack_lead_users)
        self._reports: dict[tuple[str, str], str] = {}  # (title, image) -> ts, so a retry does not repost

    async def deliver(self, action: SendMessage | UpsertCard | PostReport) -> Delivery:
        what = f"{type(action).__name__}"
        try:
            return await route(action, send=self._send, card=self._card, report=self._report, notify=self._notify,
                               react=self._react)
        except DeliveryError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure must reach the outbox classified
            err = delivery_error(exc, what)
            log.warning("slack delivery failed (%s, retry=%s): %s", what, err.retry, err)
            raise err from exc

    async def _send(self, action: SendMessage) -> Delivery:
        address = action.address
        thread = address.thread if not address.is_dm and address.thread else None

        async def post(part: str) -> str:
            resp = await self.client.chat_postMessage(channel=address.channel, thread_ts=thread, text=part,
                                                      unfurl_links=False, unfurl_media=False,
                                                      metadata=metadata(action.key, action.parts.done))
            return str(resp.get("ts", ""))

        first = await send_parts(self._parts(action), post, action.parts)
        log.info("slack: sent %s message to %s thread=%s ts=%s", action.style, address.channel, thread, first)
        return Delivery(ref=first, channel=address.channel)

    async def _react(self, action: React) -> Delivery:
        """A status reaction by name; one already there (or already gone) is what was wanted."""
        call = self.client.reactions_remove if action.remove else self.client.reactions_add
        try:
            await call(channel=action.channel, timestamp=action.message_ref, name=action.emoji)
        except SlackApiError as exc:
            error = (exc.response.data or {}).get("error") if isinstance(exc.response.data, dict) else None
            if error not in ("already_reacted", "no_reaction"):
                raise
            log.info("slack: reaction %s on %s was already %s", action.emoji, action.message_ref,
                     "gone" if action.remove else "there")
        return Delivery(ref=action.message_ref, channel=action.channel)

    async def _notify(self, action: NotifyAgents) -> Delivery:
        """Agents are told in the card's thread (the agent channel before the card exists), mentioned by id."""
        channel = action.channel or self.settings.slack_agent_channel or ""
        resp = await self.client.chat_postMessage(channel=channel, thread_ts=action.thread or None,
                                                  text=mentions_of(action.mentions) + render(action.text, self.people),
                                                  unfurl_links=False, metadata=metadata(action.key))
        return Delivery(ref=str(resp.get("ts", "")), channel=channel)

    def _parts(self, action: SendMessage) -> list[str]:
        return split_message(render(action.text, self.people))

    async def find_delivered(self, action: SendMessage | UpsertCard | PostReport) -> Delivery | None:
        """Look among the conversation's recent messages for what was posted under `action.key`."""
        if not action.key:
            return None
        if isinstance(action, SendMessage):
            address = action.address
            thread = address.thread if not address.is_dm and address.thread else None
            channel, parts = address.channel, len(self._parts(action))
        elif isinstance(action, NotifyAgents):
            channel, thread, parts = action.channel or self.settings.slack_agent_channel or "", action.thread, 1
        elif isinstance(action, UpsertCard):
            if action.ref:
                return None  # an update in place: doing it again changes nothing
            channel, thread, parts = action.channel or self.settings.slack_agent_channel or "", None, 1
        else:
            channel, thread, parts = self.settings.slack_agent_channel or "", None, 1
        try:
            if thread:
                resp = await self.client.conversations_replies(channel=channel, ts=thread, limit=LOOK_BACK,
                                                               include_all_metadata=True)
            else:
                resp = await self.client.conversations_history(channel=channel, limit=LOOK_BACK,
                                                               include_all_metadata=True)
        except Exception as exc:  # noqa: BLE001 - classified for the outbox like a failed send
            raise delivery_error(exc, "looking up an in-flight message") from exc
        found = parts_found(list(resp.get("messages") or []), action.key)
        done = 0
        while done in found:
            done += 1
        if done == 0:
            return None
        if done >= parts:
            return Delivery(ref=found[0], channel=channel)
        if isinstance(action, SendMessage) and done > action.parts.done:
            action.parts.done, action.parts.first_ref = done, found[0]
        return None

    async def _card(self, action: UpsertCard) -> Delivery:
        text, blocks = card_blocks(action.card, self.people)
        channel = action.channel or self.settings.slack_agent_channel or ""
        if action.ref:
            try:
                await self.client.chat_update(channel=channel, ts=action.ref, text=text, blocks=blocks)
                return Delivery(ref=action.ref, channel=channel)
            except SlackApiError as exc:
                if (exc.response.data or {}).get("error") not in GONE:
                    raise
                log.warning("slack: card %s for conversation %s is gone (%s); posting a new one",
                            action.ref, action.card.conversation_id, exc.response.get("error"))
        resp = await self.client.chat_postMessage(channel=channel, text=text, blocks=blocks,
                                                  metadata=metadata(action.key))
        log.info("slack: posted card for conversation %s ts=%s", action.card.conversation_id, resp.get("ts"))
        return Delivery(ref=str(resp.get("ts", "")), channel=channel)

    async def _report(self, action: PostReport) -> Delivery:
        channel = self.settings.slack_agent_channel or ""
        key = (action.title, action.image_path or "")
        if key not in self._reports:
            text, blocks = report_blocks(action)
            resp = await self.client.chat_postMessage(channel=channel, text=text, blocks=blocks,
                                                      metadata=metadata(action.key))
            self._reports[key] = str(resp.get("ts", ""))
        ts = self._reports[key]
        if action.image_path:
            path = Path(action.image_path)
            if not path.is_file():
                log.error("slack: report image %s does not exist; report posted without it", path)
            else:
                await self.client.files_upload_v2(channel=channel, file=str(path), filename=path.name,
                                                  title=action.title)
        self._reports.pop(key, None)
        return Delivery(ref=ts, channel=channel)
