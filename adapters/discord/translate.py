"""Pure translation between Discord's shapes and the core's: no network, no state, no business rules.

Inbound: a discord.py `Message` (from MESSAGE_CREATE/UPDATE) or a delete becomes an `InboundMessage`, or a
`Skip` saying why it is not one. Outbound: a `CardView` becomes an embed plus button specs, a `PostReport`
an embed, and long texts are split at Discord's 2,000-character limit. Everything here is testable with
plain objects.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

import discord

from bot.commands import CardButton
from bot.texts import as_text, clip, split_text
from vocab import Actor, Address, CardView, InboundMessage, PostReport, Role, Tone

PLATFORM = "discord"
MESSAGE_LIMIT = 2000
CUSTOM_ID = r"tandem:(?P<command>\w+):(?P<id>\d+)"


@dataclass(frozen=True)
class Skip:
    """Why an event is not something the core records (logged at debug by the adapter)."""

    reason: str


@dataclass(frozen=True)
class Place:
    """Where a message was written, as far as the adapter could tell from its cache."""

    channel_id: str
    guild_id: str = ""  # "" in a DM
    parent_id: str = ""  # the thread's parent channel, when the channel is a thread
    is_dm: bool = False


@dataclass(frozen=True)
class Roles:
    """The role ids that make someone an agent or a lead (from DiscordSettings)."""

    agent: str | None = None
    lead: str | None = None


def role_of(role_ids: set[str], roles: Roles) -> Role:
    if roles.lead and roles.lead in role_ids:
        return Role.LEAD
    if roles.agent and roles.agent in role_ids:
        return Role.AGENT
    return Role.CUSTOMER


def actor_of(user: Any, roles: Roles) -> Actor:
    """A discord.py User/Member as an Actor: in a DM there is no member, so no role (a customer); a member acts
    in its own guild."""
    role_ids = {str(r.id) for r in getattr(user, "roles", ()) or ()}
    name = getattr(user, "display_name", None) or getattr(user, "name", "") or ""
    guild = getattr(user, "guild", None)  # a Member knows its guild; a User in a DM has none
    return Actor(PLATFORM, str(user.id), as_text(name), role_of(role_ids, roles),
                 workspace=str(guild.id) if guild else "")



# What discord.py requires of a user object but a gateway payload may lack (it then builds no author at all).
_USER_DEFAULTS = {"username": "", "discriminator": "0", "avatar": None}


def lenient_message(data: Any) -> Any:
    """A MESSAGE_CREATE/UPDATE payload discord.py can build an author from: a user object missing a field
    discord.py indexes (avatar, username, discriminator) gets its empty value, so the message still has the
    author's id and is recorded. Anything else is passed on as it came."""
    if isinstance(data, dict) and isinstance(data.get("author"), dict) and "id" in data["author"]:
        missing = {k: v for k, v in _USER_DEFAULTS.items() if k not in data["author"]}
        if missing:
            data = {**data, "author": {**data["author"], **missing}}
    return data


def place_of(message: Any) -> Place:
    """Read the channel facts off a discord.py Message (its channel may be a Thread, DM or partial)."""
    channel = message.channel
    guild_id = str(message.guild.id) if getattr(message, "guild", None) else ""
    if isinstance(channel, (discord.DMChannel, discord.GroupChannel)) or (
        not guild_id and getattr(channel, "type", None) == discord.ChannelType.private
    ):
        return Place(str(channel.id), "", "", True)
    parent = getattr(channel, "parent_id", None) if isinstance(channel, discord.Thread) else None
    return Place(str(channel.id), guild_id, str(parent) if parent else "")


def address_of(place: Place, message_id: str, support_channels: frozenset[str]) -> Address | None:
    """The conversation's address, or None when the channel is not one where customers are served.

    A top-level message in a support channel starts a thread whose id will equal the message id, so the
    address is known before any REST call; a message inside that thread (or a forum post) maps to the same.
    """
    if place.is_dm:
        return Address(PLATFORM, place.channel_id, "", "", True)
    if place.parent_id and place.parent_id in support_channels:
        return Address(PLATFORM, place.parent_id, place.channel_id, place.guild_id)
    if not place.parent_id and place.channel_id in support_channels:
        return Address(PLATFORM, place.channel_id, message_id, place.guild_id)
    return None


def inbound(message: Any, place: Place, *, support_channels: frozenset[str], roles: Roles,
            bot_id: str, kind: str = "message", guild: str | None = None) -> InboundMessage | Skip:
    """A discord.py Message (created or edited) as an InboundMessage for `Core.receive`, or a Skip.
    `guild`: the one guild Tandem serves (DISCORD_GUILD_ID); a message from any other is skipped."""
    if guild and place.guild_id and place.guild_id != guild:
        return Skip(f"guild {place.guild_id} is not the configured guild {guild}")
    author = message.author
    if str(author.id) == bot_id:
        return Skip("own message")
    if getattr(author, "bot", False) or getattr(message, "webhook_id", None):
        return Skip("message from another bot or a webhook")
    if message.type not in (discord.MessageType.default, discord.MessageType.reply):
        return Skip(f"message type {message.type.name}")
    mid = str(message.id)
    address = address_of(place, mid, support_channels)
    if address is None:
        return Skip(f"channel {place.channel_id} is not a support channel or DM")
    actor = actor_of(author, roles)
    attachments = len(getattr(message, "attachments", ()) or ())
    if kind == "edit":
        edited = getattr(message, "edited_at", None)
        if edited is None:
            return Skip("update without a content edit (embed unfurl, pin)")
        return InboundMessage(f"edit:{mid}:{edited.isoformat()}", address, actor, as_text(message.content),
                              message_id=mid, attachments=attachments, kind="edit")
    return InboundMessage(mid, address, actor, as_text(message.content), message_id=mid, attachments=attachments)


def ticket(message: Any, place: Place, *, by: Actor, roles: Roles, bot_id: str, guild: str | None = None) -> \
        InboundMessage | Skip:
    """The message a ticket reaction is on, as an InboundMessage of kind ticket: addressed as if its channel
    served customers (a top-level message starts its own thread), its author the customer. One event per
    message and reactor, so the same reaction again is a duplicate. Whether `by` may open it is the core's call."""
    here = place.parent_id or place.channel_id
    event = inbound(message, place, support_channels=frozenset({here}), roles=roles, bot_id=bot_id, guild=guild)
    if isinstance(event, Skip):
        return Skip(f"ticket reaction: {event.reason}")
    return dataclasses.replace(event, event_id=f"ticket:{place.channel_id}:{event.message_id}:{by.user_id}",
                               kind="ticket", by=by)


def deleted(message_id: str, place: Place, *, support_channels: frozenset[str], author: Actor | None) -> \
        InboundMessage | Skip:
    address = address_of(place, message_id, support_channels)
    if address is None:
        return Skip(f"delete in channel {place.channel_id}, not a support channel or DM")
    who = author or Actor(PLATFORM, "unknown")
    return InboundMessage(f"delete:{message_id}", address, who, "", message_id=message_id, kind="delete")


# ---- outbound ----------------------------------------------------------------------------------------------

def split_message(text: str) -> list[str]:
    """The parts of a long message, each within Discord's 2,000 characters."""
    return split_text(text, MESSAGE_LIMIT)


def _clip(text: str | None, limit: int) -> str:
    return clip((text or "").strip(), limit)


_COLOURS = {"bot": 0x5865F2, "waiting_human": 0xED4245, "human": 0xFEE75C, "resolved": 0x57F287}


_MASKED = re.compile(r"\[([^\]]*)\]\(\s*<?([^)\s>]+)>?[^)]*\)")
_GROUP_PING = re.compile(r"@(everyone|here)\b|<@&(\d+)>")


def render(text: str) -> str:
    """A message as Tandem posts it on Discord: a masked link shows its address, and @everyone, @here and role
    mentions are broken with a zero-width space (the core removes them first; allowed_mentions mutes them too)."""
    text = _MASKED.sub(lambda m: f"{m.group(1)} ({m.group(2)})" if m.group(1).strip() else m.group(2), text or "")
    return _GROUP_PING.sub(lambda m: f"@\u200b{m.group(1)}" if m.group(1) else f"<@\u200b&{m.group(2)}>", text)


def plain(text: str) -> str:
    """A customer's words as Discord shows them: no markdown (so no masked link) and no mention."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text or ""))


def card_embed(card: CardView) -> discord.Embed:
    lines = [f"**Customer:** {_clip(plain(card.latest_message), 1500) or '(no text)'}"]
    if card.draft_text is not None:
        conf = f" · confidence {card.confidence:.0%}" if card.confidence is not None else ""
        lines.append(f"\n**Draft d{card.draft_id}**{conf}\n{_clip(render(card.draft_text), 2200)}")
    embed = discord.Embed(title=_clip(f"Conversation #{card.conversation_id} · {plain(card.customer)}", 256),
                          description=_clip("\n".join(lines), 4096), colour=_COLOURS.get(card.state, 0x99AAB5))
    embed.add_field(name="State", value=_clip(card.state_label, 1024) or card.state, inline=True)
    if card.assignee:
        embed.add_field(name="Assignee", value=_clip(card.assignee, 1024), inline=True)
    if card.due:
        embed.add_field(name="Reply due", value=_clip(card.due, 1024), inline=True)
    if card.handoff_reason:
        embed.add_field(name="Why a person", value=_clip(card.handoff_reason, 1024), inline=True)
    if card.sources:
        embed.add_field(name="Sources", value=_clip("\n".join(f"{s.title} ({s.score:.2f})" for s in card.sources),
                                                    1024), inline=False)
    if card.where:
        embed.set_footer(text=_clip(card.where, 2048))
    return embed


_STYLES = {Tone.GOOD: discord.ButtonStyle.success, Tone.PRIMARY: discord.ButtonStyle.primary,
           Tone.DANGER: discord.ButtonStyle.danger, Tone.PLAIN: discord.ButtonStyle.secondary}


def button_style(button: CardButton) -> discord.ButtonStyle:
    return _STYLES[button.tone]


def report_embed(report: PostReport, image_name: str | None = None) -> discord.Embed:
    embed = discord.Embed(title=_clip(report.title, 256), description=_clip(report.summary, 4096), colour=0x5865F2)
    for label, value in report.fields[:18]:
        embed.add_field(name=_clip(label, 256), value=_clip(value, 1024) or "-", inline=True)
    for heading, body in report.sections[: 25 - min(len(report.fields), 18)]:
        embed.add_field(name=_clip(heading, 256), value=_clip(body, 1024) or "-", inline=False)
    if image_name:
        embed.set_image(url=f"attachment://{image_name}")
    return embed
