"""The Discord adapter: a discord.py client on the core's asyncio loop, wired to the core and nothing else.

Inbound, each message in a support channel, its thread, a forum post or a DM is recorded with
`Core.receive` (the message id is the event id, so a gateway resume or replay is deduplicated by the core);
edits and deletions are recorded too. Outbound, `deliver` posts replies in the conversation's thread
(creating it from the customer's first message on first use), posts or edits review cards in the staff
channel, and posts reports. Agent input (buttons, modal, `/tandem`) lives in `interactions.py`.
Every message is sent with a nonce made from the outbox row's key (discord.py sends `enforce_nonce: true` with
it), so when a row is sent again after a crash Discord returns the message it already has instead of posting
it twice (Discord remembers nonces for a few minutes).
"""
from __future__ import annotations

import asyncio
import collections
import logging
import time
from typing import Any

import discord
from discord.gateway import DiscordWebSocket
from discord.webhook.async_ import async_context

from adapters.discord import interactions, translate
from adapters.discord.config import DiscordSettings
from adapters.discord.outbound import Outbound
from adapters.discord.urls import BaseURLs
from adapters.discord.supervision import Liveness, guard_socket, watch_session
from bot.config import ConfigError
from bot.emojis import name_of
from bot.ports import CoreAPI
from vocab import Actor, Delivery, DeliveryError, PlatformHealth, PostReport, SendMessage, UpsertCard

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()  # {"parse": []}: nobody, no role, no @everyone is notified


def intents() -> discord.Intents:
    wanted = discord.Intents.none()
    wanted.guilds = True  # channels, threads and roles in the cache
    wanted.guild_messages = True
    wanted.dm_messages = True
    wanted.message_content = True  # privileged: enable it in the Developer Portal
    wanted.guild_reactions = True  # the ticket reaction (TANDEM_TICKET_EMOJI); not privileged
    wanted.dm_reactions = True
    return wanted


def guard_parsers(client: discord.Client) -> None:
    """Make a gateway payload discord.py cannot parse a log line, not the end of the connection."""
    parsers = client._connection.parsers  # event name -> parse_* method; the websocket reads this dict

    def guarded(event: str, parse):
        lenient = translate.lenient_message if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE") else None

        def run(data: Any) -> None:
            try:
                parse(lenient(data) if lenient else data)
            except Exception:
                log.exception("discord: unparseable %s payload ignored (keys: %s)", event,
                              sorted(data)[:20] if isinstance(data, dict) else type(data).__name__)
        return run

    for event, parse in list(parsers.items()):
        parsers[event] = guarded(event, parse)


class TandemClient(discord.Client):
    def __init__(self, adapter: "DiscordAdapter", urls: BaseURLs, **options: Any) -> None:
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False  # no voice: no warning about it
        # no message Tandem sends may ping anyone: every send (messages, cards, reports, interaction answers)
        # falls back to this client-wide setting, and each of ours also passes it explicitly
        super().__init__(intents=intents(), allowed_mentions=NO_PINGS, **options)
        urls.apply(self.http)
        self.adapter = adapter
        self.tree = discord.app_commands.CommandTree(self)

    @property
    def ws(self) -> DiscordWebSocket:
        return self._guarded_ws

    @ws.setter
    def ws(self, ws: DiscordWebSocket | None) -> None:  # discord.py sets this for every new gateway socket
        self._guarded_ws = guard_socket(ws) if ws is not None else ws

    async def setup_hook(self) -> None:
        await self.adapter.setup(self)

    async def on_ready(self) -> None:
        log.info("discord: connected as %s (%s) to %d guild(s)", self.user, self.user and self.user.id,
                 len(self.guilds))
        self.adapter.liveness.up()
        self.adapter.ready.set()

    async def on_resumed(self) -> None:
        log.info("discord: gateway session resumed")
        self.adapter.liveness.up()

    async def on_disconnect(self) -> None:
        self.adapter.liveness.down("gateway disconnected")

    async def on_message(self, message: discord.Message) -> None:
        await self.adapter.on_message(message, "message")

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        await self.adapter.on_message(payload.message, "edit")

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        await self.adapter.on_delete(payload)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.adapter.on_reaction(payload)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is discord.InteractionType.modal_submit:
            await interactions.on_modal_submit(interaction)


class DiscordAdapter:
    platform = "discord"

    def __init__(self, settings: DiscordSettings, *, ready_timeout: float = 60.0, **client_options: Any) -> None:
        self.settings = settings
        self.support_channels = settings.support_channels
        self.roles = translate.Roles(settings.discord_agent_role, settings.discord_lead_role)
        self.ready_timeout = ready_timeout
        self.client_options = {"max_ratelimit_timeout": 20.0, **client_options}
        self.core: CoreAPI | None = None
        self.client: TandemClient | None = None
        self.ready = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._threads: set[str] = set()  # threads known to exist (created or seen)
        self._parents: dict[int, str] = {}  # uncached channel id -> parent id ("" if none)
        self._interactions: collections.OrderedDict[int, None] = collections.OrderedDict()
        self.liveness = Liveness(self.platform)
        self._stopping = False

    # ---- lifecycle -------------------------------------------------------------------------------------------
    async def start(self, core: CoreAPI) -> None:
        self.core = core
        self.ready = asyncio.Event()
        self._stopping = False
        self.urls = BaseURLs(self.settings.discord_api_url, self.settings.discord_gateway_url)
        self.client = TandemClient(self, self.urls, **self.client_options)
        self._task = asyncio.create_task(self._run(self.client), name="discord")
        waiter = asyncio.create_task(self.ready.wait())
        done, _ = await asyncio.wait({self._task, waiter}, timeout=self.ready_timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if self._task in done:
            exc = self._task.exception()
            if isinstance(exc, discord.LoginFailure):
                raise ConfigError("DISCORD_TOKEN: Discord rejected the token (reset it in the Developer Portal)")
            if isinstance(exc, discord.PrivilegedIntentsRequired):
                raise ConfigError("DISCORD_TOKEN: enable the Message Content intent for this bot "
                                  "(Developer Portal > Bot > Privileged Gateway Intents)")
            raise RuntimeError(f"Discord connection ended before it was ready: {exc!r}") from exc
        if not done:
            log.warning("discord: not ready after %.0fs; still connecting in the background", self.ready_timeout)

    async def _run(self, client: TandemClient) -> None:
        """The client's task: every task it starts inherits this context, and with it the rebased webhooks."""
        async_context.set(self.urls.webhook_adapter())
        await client.login(self.settings.discord_token or "")
        pause = 1.0
        while True:
            try:
                await client.connect()
                if not self._stopping:
                    self.liveness.down("gateway closed the connection for good")
                    log.error("discord: the gateway connection was closed and will not reconnect; restart Tandem")
                return
            except (discord.LoginFailure, discord.PrivilegedIntentsRequired) as exc:
                self.liveness.down(type(exc).__name__)
                raise
            except Exception as exc:  # noqa: BLE001 - supervised: log, wait, connect again
                if self._stopping:
                    return
                if client.is_closed():  # discord.py gave up (a close code it must not retry): say so, loudly
                    self.liveness.down(f"closed for good: {type(exc).__name__}: {exc}")
                    log.error("discord: the gateway connection ended for good (%r); restart Tandem once fixed", exc)
                    raise
                pause = 1.0 if self.liveness.connected else pause  # a fresh failure after a good run
                self.liveness.down(f"connection ended: {type(exc).__name__}: {exc}")
                log.error("discord: gateway connection ended (%r); reconnecting in %.0fs", exc, pause,
                          exc_info=exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 60.0)  # exponential back-off, capped at a minute

    def health(self) -> PlatformHealth:
        return self.liveness.report()

    async def setup(self, client: TandemClient) -> None:
        """After login, before the gateway: find the gateway, register buttons, sync `/tandem`."""
        s = self.settings
        guard_parsers(client)
        watch_session(client._connection.parsers, self.liveness)
        if s.discord_api_url and not s.discord_gateway_url:
            _, url, _ = await client.http.get_bot_gateway()
            self.urls.gateway = url
        client.add_dynamic_items(interactions.CardButtonItem, interactions.SnippetPicker)
        guild = discord.Object(int(s.discord_guild_id)) if s.discord_guild_id else None
        client.tree.add_command(interactions.tandem_group(), guild=guild)
        try:
            synced = await client.tree.sync(guild=guild)
            log.info("discord: synced /tandem (%d command group) %s", len(synced),
                     f"to guild {s.discord_guild_id}" if guild else "globally (may take up to an hour to appear)")
        except discord.HTTPException as exc:
            log.error("discord: could not sync /tandem app commands (invite with the applications.commands "
                      "scope?): %s", exc)

    async def stop(self) -> None:
        self._stopping = True
        self.liveness.down("stopped")
        if self.client is not None:
            await self.client.close()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=5)
            except (asyncio.TimeoutError, asyncio.CancelledError, Exception) as exc:  # closing anyway
                log.debug("discord task ended with %r", exc)
                self._task.cancel()
        self._task = None

    # ---- helpers for interactions ----------------------------------------------------------------------------
    def actor(self, user: Any) -> Actor:
        return translate.actor_of(user, self.roles)

    def seen_interaction(self, interaction_id: int) -> bool:
        """True if this interaction id was handled already in this session (a gateway replay), so it is not even
        deferred; remembers the last 1,000. The durable check is the core's (the delivery key)."""
        if interaction_id in self._interactions:
            return True
        self._interactions[interaction_id] = None
        while len(self._interactions) > 1000:
            self._interactions.popitem(last=False)
        return False

    # ---- inbound ---------------------------------------------------------------------------------------------
    async def on_message(self, message: discord.Message, kind: str) -> None:
        if self.core is None or self.client is None:
            return
        started = time.perf_counter()
        try:
            if getattr(message, "author", None) is None:  # discord.py could not build it even leniently
                log.warning("discord: skipped %s %s: no author (a user object without an id)", kind, message.id)
                return
            if getattr(message.author, "bot", False) or message.author.id == self.client.user.id:
                log.debug("discord: skipped %s %s: own or another bot's message", kind, message.id)
                return
            place = await self._place(translate.place_of(message))
            event = translate.inbound(message, place, support_channels=self.support_channels, roles=self.roles,
                                      bot_id=str(self.client.user.id), kind=kind,
                                      guild=self.settings.discord_guild_id)
            if isinstance(event, translate.Skip):
                level = logging.INFO if event.reason.startswith("guild") else logging.DEBUG
                log.log(level, "discord: skipped %s %s: %s", kind, message.id, event.reason)
                return
            if event.address.thread and event.address.thread != event.message_id:
                self._threads.add(event.address.thread)
            receipt = await self.core.receive(event)
            self.core.metrics.observe_ack("discord", time.perf_counter() - started)
            self.liveness.event()
            log.info("discord: %s %s from %s in %s recorded (inbox #%s%s)", kind, message.id, event.author.label,
                     event.address.thread or event.address.channel, receipt.inbox_id,
                     ", duplicate" if receipt.duplicate else "")
        except Exception:  # a malformed event must never stop the gateway loop
            log.exception("discord: could not record %s %s", kind, getattr(message, "id", "?"))

    async def on_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        if self.core is None:
            return
        cached = payload.cached_message
        if cached is not None and (cached.author.bot or cached.author == self.client.user):
            return
        place = await self._place(translate.Place(str(payload.channel_id), str(payload.guild_id or ""),
                                                  self._cached_parent(payload.channel_id),
                                                  is_dm=payload.guild_id is None))
        author = self.actor(cached.author) if cached is not None else None
        event = translate.deleted(str(payload.message_id), place, support_channels=self.support_channels,
                                  author=author)
        if isinstance(event, translate.Skip):
            log.debug("discord: skipped delete %s: %s", payload.message_id, event.reason)
            return
        await self.core.receive(event)
        self.liveness.event()
        log.info("discord: deletion of %s recorded", payload.message_id)

    async def on_reaction(self, payload: discord.RawReactionActionEvent) -> None:
        """A ticket reaction (TANDEM_TICKET_EMOJI): the message it is on is fetched and recorded for the core,
        which opens a conversation for it if the reactor is an agent. Other reactions are not looked at."""
        if self.core is None or self.client is None:
            return
        ticket = name_of(self.core.settings.tandem_ticket_emoji)
        if not ticket or name_of(str(payload.emoji)) != ticket or payload.user_id == self.client.user.id:
            return
        started = time.perf_counter()
        try:
            by = self.actor(payload.member) if payload.member is not None else \
                Actor(translate.PLATFORM, str(payload.user_id))  # a DM: no member, no role
            channel = self.client.get_channel(payload.channel_id) or self.client.get_partial_messageable(
                payload.channel_id, guild_id=payload.guild_id)
            message = await channel.fetch_message(payload.message_id)
            place = translate.place_of(message)
            if payload.guild_id is None:
                place = translate.Place(place.channel_id, "", "", True)
            event = translate.ticket(message, await self._place(place), by=by, roles=self.roles,
                                     bot_id=str(self.client.user.id), guild=self.settings.discord_guild_id)
            if isinstance(event, translate.Skip):
                log.info("discord: skipped the ticket reaction on %s: %s", payload.message_id, event.reason)
                return
            receipt = await self.core.receive(event)
            self.core.metrics.observe_ack("discord", time.perf_counter() - started)
            self.liveness.event()
            log.info("discord: ticket reaction on %s by %s recorded (inbox #%s%s)", payload.message_id, by.label,
                     receipt.inbox_id, ", duplicate" if receipt.duplicate else "")
        except Exception:  # a message that cannot be read (deleted, no Read Message History) must not stop the loop
            log.exception("discord: could not record the ticket reaction on %s", payload.message_id)

    def _cached_parent(self, channel_id: int) -> str:
        channel = self.client.get_channel(channel_id) if self.client else None
        parent = getattr(channel, "parent_id", None) if isinstance(channel, discord.Thread) else None
        return str(parent) if parent else ""

    async def _place(self, place: translate.Place) -> translate.Place:
        """Fill in a thread's parent when the cache does not know the channel (one REST call, remembered)."""
        if place.is_dm or place.parent_id or place.channel_id in self.support_channels or self.client is None:
            return place
        cid = int(place.channel_id)
        if self.client.get_channel(cid) is not None:
            return place
        if cid not in self._parents:
            try:
                channel = await self.client.fetch_channel(cid)
                parent = getattr(channel, "parent_id", None)
                self._parents[cid] = str(parent) if isinstance(channel, discord.Thread) and parent else ""
            except discord.HTTPException as exc:
                log.warning("discord: cannot look up channel %s: %s", cid, exc)
                return place
        return translate.Place(place.channel_id, place.guild_id, self._parents[cid])

    # ---- outbound --------------------------------------------------------------------------------------------
    async def deliver(self, action: SendMessage | UpsertCard | PostReport) -> Delivery:
        if self.client is None or self.client.is_closed():
            raise DeliveryError("Discord is not connected", retry=True)
        return await Outbound(self.client, self.settings, self._threads).deliver(action)
