"""Discord delivery: the core's actions as discord.py calls (replies in the conversation's thread, review cards
with their buttons, reports), with Discord's errors turned into DeliveryErrors that say whether to retry.

Every send carries the outbox key as its nonce (discord.py then sends `enforce_nonce`, so a resend after a
crash returns the message Discord already has) and mentions disabled.
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import discord

from adapters.discord import interactions, translate
from adapters.discord.config import DiscordSettings
from bot.commands import card_buttons
from bot import emojis
from bot.ports import route, send_parts
from vocab import Address, Delivery, DeliveryError, NotifyAgents, PostReport, React, SendMessage, UpsertCard

log = logging.getLogger("adapters.discord.adapter")

THREAD_EXISTS = 160004  # Discord error code: a thread was already started from this message
THREAD_NAME_LIMIT = 100
NO_PINGS = discord.AllowedMentions.none()  # {"parse": []}: nobody, no role, no @everyone is notified


def nonce_of(key: str, part: int = 0) -> dict[str, str]:
    """send() keyword for the outbox key (and part of a long message); Discord allows 25 characters."""
    if not key:
        return {}  # discord.py then picks a random nonce
    return {"nonce": (key if part == 0 else f"{key}.{part}")[:25]}


class Outbound:
    """One delivery through a connected client; `threads` is the adapter's set of threads known to exist."""

    def __init__(self, client: discord.Client, settings: DiscordSettings, threads: set[str]) -> None:
        self.client = client
        self.settings = settings
        self._threads = threads

    async def deliver(self, action: SendMessage | UpsertCard | PostReport) -> Delivery:
        try:
            return await route(action, send=self._send, card=self._card, report=self._report, notify=self._notify,
                               react=self._react)
        except discord.RateLimited as exc:
            raise DeliveryError(f"rate limited for {exc.retry_after:.0f}s", retry_after=exc.retry_after) from exc
        except (discord.Forbidden, discord.NotFound) as exc:
            raise DeliveryError(f"Discord refused ({exc.status} {exc.code}): {exc.text}", retry=False) from exc
        except discord.HTTPException as exc:
            raise DeliveryError(f"Discord error {exc.status} {exc.code}: {exc.text}", retry=exc.status >= 500
                                or exc.status == 429) from exc
        except (OSError, asyncio.TimeoutError, discord.DiscordException) as exc:
            raise DeliveryError(f"network error: {exc!r}", retry=True) from exc

    async def _send(self, action: SendMessage) -> Delivery:
        target = await self._conversation_channel(action.address)
        channel = self.client.get_partial_messageable(target)

        async def post(piece: str) -> str:
            nonce = nonce_of(action.key, action.parts.done)
            return str((await channel.send(piece, allowed_mentions=NO_PINGS, **nonce)).id)

        first = await send_parts(translate.split_message(translate.render(action.text)), post, action.parts)
        return Delivery(ref=first, channel=str(target))

    async def _react(self, action: React) -> Delivery:
        """A status reaction in unicode (bot/emojis.py); a 403 or 404 (10008 Unknown Message) is not retried."""
        message = self.client.get_partial_messageable(int(action.channel)).get_partial_message(int(action.message_ref))
        emoji = emojis.unicode_of(action.emoji)
        if action.remove:
            await message.remove_reaction(emoji, self.client.user)  # DELETE .../@me
        else:
            await message.add_reaction(emoji)
        return Delivery(ref=action.message_ref, channel=action.channel)

    async def _notify(self, action: NotifyAgents) -> Delivery:
        """Agents are told in the thread of the conversation's card (started on first use), and only the people
        mentioned are pinged."""
        channel_id = action.channel or self.settings.discord_agent_channel or ""
        target = await self._conversation_channel(Address("discord", channel_id, action.thread),
                                                  name=f"Conversation #{action.conversation_id}")
        ids = [uid for uid, _ in action.mentions if uid.isdigit()]
        shown = " ".join(f"<@{uid}>" if uid.isdigit() else translate.plain(name or uid) for uid, name in action.mentions)
        pings = discord.AllowedMentions(everyone=False, roles=False, users=[discord.Object(int(u)) for u in ids])
        message = await self.client.get_partial_messageable(target).send(
            (shown + " " if shown else "") + translate.render(action.text), allowed_mentions=pings,
            **nonce_of(action.key))
        return Delivery(ref=str(message.id), channel=str(target))

    async def _conversation_channel(self, address, name: str = "") -> int:
        """The channel to post in: the DM, or the conversation's thread, started from the customer's message."""
        if address.is_dm or not address.thread:
            return int(address.channel)
        thread = address.thread
        if thread in self._threads or isinstance(self.client.get_channel(int(thread)), discord.Thread):
            return int(thread)
        original = self.client._connection._get_message(int(thread))  # cached first message, for a thread name
        name = name or (original.content if original is not None else "") or "Support request"
        try:
            await self.client.http.start_thread_with_message(int(address.channel), int(thread),
                                                             name=name[:THREAD_NAME_LIMIT], auto_archive_duration=1440)
            log.info("discord: started thread %s in channel %s", thread, address.channel)
        except discord.HTTPException as exc:
            if exc.code != THREAD_EXISTS:
                raise
        self._threads.add(thread)
        return int(thread)

    def _view(self, card) -> discord.ui.View:
        view = discord.ui.View(timeout=None)
        for spec in card_buttons(card):
            view.add_item(interactions.CardButtonItem.of(spec))
        if card.snippets:
            view.add_item(interactions.SnippetPicker(card.conversation_id, card.snippets))
        return view

    async def _card(self, action: UpsertCard) -> Delivery:
        channel_id = action.channel or self.settings.discord_agent_channel or ""
        channel = self.client.get_partial_messageable(int(channel_id))
        embed, view = translate.card_embed(action.card), self._view(action.card)
        if action.ref:
            try:
                await channel.get_partial_message(int(action.ref)).edit(embed=embed, view=view,
                                                                        allowed_mentions=NO_PINGS)
                return Delivery(ref=action.ref, channel=channel_id)
            except discord.NotFound:
                log.warning("discord: card %s for #%s is gone; posting a new one", action.ref,
                            action.card.conversation_id)
        message = await channel.send(embed=embed, view=view, allowed_mentions=NO_PINGS, **nonce_of(action.key))
        return Delivery(ref=str(message.id), channel=channel_id)

    async def _report(self, action: PostReport) -> Delivery:
        channel_id = self.settings.discord_agent_channel or ""
        channel = self.client.get_partial_messageable(int(channel_id))
        image = Path(action.image_path) if action.image_path else None
        if image is not None and not image.is_file():
            log.warning("discord: report image %s is missing; posting without it", image)
            image = None
        embed = translate.report_embed(action, image.name if image else None)
        if image is not None:
            message = await channel.send(embed=embed, file=discord.File(image, filename=image.name),
                                         allowed_mentions=NO_PINGS, **nonce_of(action.key))
        else:
            message = await channel.send(embed=embed, allowed_mentions=NO_PINGS, **nonce_of(action.key))
        return Delivery(ref=str(message.id), channel=channel_id)
