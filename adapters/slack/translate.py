"""Pure translation from Slack Events API payloads to the core's `InboundMessage` (no I/O, no SDK objects).

Every payload either becomes one InboundMessage or is ignored with a short reason for the log, so that a
subtype we never heard of is a debug line, not a crash. Thread and DM rules live here:
a top-level message in a support channel starts a conversation keyed by its own ts; replies carry thread_ts;
a DM (channel type "im") is one conversation per channel, whatever its threads.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.emojis import name_of
from bot.texts import as_text
from vocab import Actor, Address, InboundMessage, Role

from .config import SlackSettings

PLATFORM = "slack"
# Subtypes that are a person writing; everything else (channel_join, channel_topic, pinned_item...) is ignored.
_WRITING = {None, "", "file_share", "thread_broadcast", "me_message"}


@dataclass(frozen=True)
class Identity:
    """Who the bot is in this workspace (from auth.test): its own messages must never be answered."""

    bot_user_id: str = ""
    bot_id: str = ""
    team_id: str = ""


@dataclass(frozen=True)
class Translation:
    message: InboundMessage | None
    reason: str = ""  # why it was ignored; "" when message is set
    quiet: bool = False  # True: the reason is routine (our own echo, another bot): log at debug


def role_for(user_id: str, settings: SlackSettings, *, external: bool = False) -> Role:
    """Map a Slack user to a core role. Users from another workspace (Slack Connect) are always customers."""
    if external:
        return Role.CUSTOMER
    if user_id in settings.slack_lead_users:
        return Role.LEAD
    if user_id in settings.slack_agent_users:
        return Role.AGENT
    return Role.CUSTOMER


def actor_for(user_id: str, settings: SlackSettings, *, team: str = "", home: str = "") -> Actor:
    """A Slack person is named by their user id everywhere (events, buttons, commands), so the core sees one
    stable label per person; Slack shows the name when the id is rendered as a mention (<@U...>).
    `home` is Tandem's own workspace: an agent acts in it, and a person from another one is a customer."""
    external = bool(team and home and team != home)
    return Actor(PLATFORM, user_id, "", role_for(user_id, settings, external=external), workspace=home)


def installed_here(body: dict[str, Any], me: Identity) -> bool:
    """Whether an envelope is for Tandem's own installation. In a Slack Connect channel the envelope's team_id
    may be the sender's workspace; `authorizations` names the installation the event was delivered for."""
    if not me.team_id:
        return True  # auth.test has not answered yet: nothing to compare with
    teams = {body.get("team_id"), body.get("context_team_id")}
    teams |= {a.get("team_id") for a in body.get("authorizations") or () if isinstance(a, dict)}
    return me.team_id in teams


_ID_KEYS = ("user", "team", "channel")


def ids_as_strings(body: dict[str, Any]) -> bool:
    """Spell a numeric user/team/channel id as a string, in place, where bolt reads them (bolt fails on a
    number there, before any listener runs). True if anything changed."""
    changed = False
    event = body.get("event") if isinstance(body.get("event"), dict) else {}
    for place in (body, event, event.get("message"), event.get("previous_message")):
        if not isinstance(place, dict):
            continue
        for key in _ID_KEYS:
            if isinstance(place.get(key), (int, float)) and not isinstance(place.get(key), bool):
                place[key], changed = str(place[key]), True
    return changed


def _id(value: Any) -> str:
    """A user id or ts as a string: Slack sends strings, but a number (or an object) must not lose the message."""
    if isinstance(value, dict):
        value = value.get("id")
    return "" if value is None or value == "" else as_text(value)


def _ignore(reason: str, quiet: bool = False) -> Translation:
    return Translation(None, reason, quiet)


def _is_bot(msg: dict[str, Any], me: Identity) -> bool:
    return bool(msg.get("bot_id") or msg.get("subtype") == "bot_message" or msg.get("bot_profile")
                or (me.bot_user_id and msg.get("user") == me.bot_user_id))


def _address(event: dict[str, Any], msg: dict[str, Any], team: str) -> Address:
    channel = str(event["channel"])
    if event.get("channel_type") == "im" or channel.startswith("D"):
        return Address(PLATFORM, channel, "", team, is_dm=True)
    thread = str(msg.get("thread_ts") or msg["ts"])
    return Address(PLATFORM, channel, thread, team)


def _where(event: dict[str, Any], settings: SlackSettings) -> str | None:
    """None when the channel is one we serve; otherwise the reason to ignore it."""
    channel = event.get("channel")
    if not isinstance(channel, str) or not channel:
        return "missing channel"
    if event.get("channel_type") == "im" or channel.startswith("D"):
        return None
    if channel in settings.slack_support_channels:
        return None
    return f"channel {channel} is not a support channel"


def translate_event(body: dict[str, Any], settings: SlackSettings, me: Identity) -> Translation:
    """One Events API envelope (`event_callback`) -> Translation."""
    event = body.get("event")
    event_id = body.get("event_id")
    if not isinstance(event, dict) or not isinstance(event_id, str):
        return _ignore("not an event_callback with event and event_id")
    if event.get("type") != "message":
        return _ignore(f"event type {event.get('type')!r} is not handled", quiet=True)
    if not installed_here(body, me):
        return _ignore(f"event from workspace {body.get('team_id')!r}, which Tandem is not installed for")
    team = me.team_id or str(body.get("team_id") or "")  # a conversation belongs to Tandem's workspace
    where = _where(event, settings)
    if where:
        return _ignore(where, quiet=True)
    subtype = event.get("subtype")
    if subtype == "message_changed":
        return _edit(event, event_id, team, settings, me)
    if subtype == "message_deleted":
        return _delete(event, event_id, team, settings, me)
    if _is_bot(event, me):
        return _ignore("a bot's message (ours or another's)", quiet=True)
    if subtype not in _WRITING:
        return _ignore(f"message subtype {subtype!r} is not a person writing")
    user, ts = _id(event.get("user")), _id(event.get("ts"))
    if not user or not ts:
        return _ignore("message without user or ts")
    text = as_text(event.get("text"))
    files = event.get("files") if isinstance(event.get("files"), list) else []
    author = actor_for(user, settings, team=str(event.get("user_team") or event.get("team") or ""),
                       home=team)
    return Translation(InboundMessage(event_id, _address(event, event, team), author, text, message_id=ts,
                                      attachments=len(files)))


def _edit(event: dict[str, Any], event_id: str, team: str, settings: SlackSettings, me: Identity) -> Translation:
    new, old = event.get("message"), event.get("previous_message") or {}
    if not isinstance(new, dict) or not _id(new.get("ts")) or not _id(new.get("user")):
        return _ignore("message_changed without message.user/ts")
    if _is_bot(new, me):
        return _ignore("a bot's message was changed", quiet=True)
    new = {**new, "user": _id(new["user"]), "ts": _id(new["ts"])}
    text = as_text(new.get("text"))
    if isinstance(old, dict) and as_text(old.get("text")) == text:
        return _ignore("message_changed without a text change (unfurl, thread reply count)", quiet=True)
    author = actor_for(new["user"], settings, team=str(new.get("user_team") or new.get("team") or ""),
                       home=team)
    return Translation(InboundMessage(event_id, _address(event, new, team), author, text, message_id=new["ts"],
                                      kind="edit"))


def _delete(event: dict[str, Any], event_id: str, team: str, settings: SlackSettings, me: Identity) -> Translation:
    old = event.get("previous_message")
    deleted_ts = event.get("deleted_ts")
    deleted_ts = _id(deleted_ts)
    if not isinstance(old, dict) or not deleted_ts or not _id(old.get("user")):
        return _ignore("message_deleted without previous_message.user or deleted_ts")
    if _is_bot(old, me):
        return _ignore("a bot's message was deleted", quiet=True)
    old = {"ts": deleted_ts, **old, "user": _id(old["user"])}
    author = actor_for(old["user"], settings, team=str(old.get("user_team") or old.get("team") or ""), home=team)
    return Translation(InboundMessage(event_id, _address(event, old, team), author, "", message_id=deleted_ts,
                                      kind="delete"))


@dataclass(frozen=True)
class TicketAsk:
    """An agent's ticket reaction, before the message it is on is fetched: where it is and who reacted."""

    channel: str
    ts: str
    by: Actor
    team: str


def ticket_ask(body: dict[str, Any], settings: SlackSettings, me: Identity, emoji: str) -> TicketAsk | Translation:
    """A `reaction_added` event with the ticket emoji (`emoji`, an alias from bot/emojis.py; '' = off) on a
    message -> TicketAsk; anything else -> Translation to ignore. Whether the reactor may open a ticket is the
    core's decision."""
    event = body.get("event") or {}
    item = event.get("item") if isinstance(event.get("item"), dict) else {}
    if not emoji or name_of(as_text(event.get("reaction"))) != emoji:
        return _ignore("a reaction that is not the ticket emoji", quiet=True)
    if item.get("type") != "message" or not _id(item.get("channel")) or not _id(item.get("ts")):
        return _ignore("a ticket reaction on something other than a message")
    if not installed_here(body, me):
        return _ignore(f"event from workspace {body.get('team_id')!r}, which Tandem is not installed for")
    user = _id(event.get("user"))
    if not user or user == me.bot_user_id:
        return _ignore("a ticket reaction without a person", quiet=True)
    team = me.team_id or str(body.get("team_id") or "")
    by = actor_for(user, settings, team=str(event.get("user_team") or ""), home=team)
    return TicketAsk(_id(item["channel"]), _id(item["ts"]), by, team)


def ticket_message(body: dict[str, Any], ask: TicketAsk, msg: dict[str, Any] | None, settings: SlackSettings,
                   me: Identity) -> Translation:
    """The reacted message (as conversations.history/replies gave it) as an InboundMessage of kind ticket, its
    author the customer; one event per message and reactor, so a second identical reaction is a duplicate."""
    if not isinstance(msg, dict) or _id(msg.get("ts")) != ask.ts:
        return _ignore(f"the message {ask.ts} in {ask.channel} could not be read")
    if _is_bot(msg, me):
        return _ignore("a ticket reaction on a bot's message", quiet=True)
    user = _id(msg.get("user"))
    if not user or msg.get("subtype") not in _WRITING:
        return _ignore("a ticket reaction on a message that is not a person writing")
    files = msg.get("files") if isinstance(msg.get("files"), list) else []
    author = actor_for(user, settings, team=str(msg.get("user_team") or msg.get("team") or ""), home=ask.team)
    address = _address({"channel": ask.channel}, {**msg, "ts": ask.ts}, ask.team)
    return Translation(InboundMessage(f"ticket:{ask.channel}:{ask.ts}:{ask.by.user_id}", address, author,
                                      as_text(msg.get("text")), message_id=ask.ts, attachments=len(files),
                                      kind="ticket", by=ask.by))
