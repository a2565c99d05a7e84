"""Discord payload builders shaped like the real API (discord/types/*.py), and the fake server's small world.

`World` holds one guild with a support text channel, a support forum, a staff channel, agent and lead roles,
and four people (customer, agent, lead, stranger without a role). Builders return plain dicts for REST
answers and gateway dispatches: users, members, messages, threads, and the three interaction kinds the
adapter handles (app command, button press, modal submit).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timezone

_ids = itertools.count(1_200_000_000_000_000_001)


def snowflake() -> str:
    return str(next(_ids))


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


def user(uid: str, name: str, *, bot: bool = False) -> dict:
    return {"id": uid, "username": name, "discriminator": "0", "global_name": name.title(), "avatar": None,
            "bot": bot, "public_flags": 0}


def member(roles: list[str], *, with_user: dict | None = None, nick: str | None = None) -> dict:
    data = {"roles": roles, "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False, "mute": False,
            "flags": 0, "nick": nick, "avatar": None, "pending": False}
    if with_user is not None:
        data["user"] = with_user
        data["permissions"] = "2147483648"
    return data


def message(mid: str, channel_id: str, author: dict, content: str, *, guild_id: str | None = None,
            member_data: dict | None = None, attachments: list | None = None, embeds: list | None = None,
            components: list | None = None, flags: int = 0, edited: str | None = None) -> dict:
    data = {"id": mid, "channel_id": channel_id, "author": author, "content": content, "timestamp": now(),
            "edited_timestamp": edited, "tts": False, "mention_everyone": False, "mentions": [],
            "mention_roles": [], "attachments": attachments or [], "embeds": embeds or [], "pinned": False,
            "type": 0, "flags": flags, "components": components or []}
    if guild_id:
        data["guild_id"] = guild_id
        if member_data is not None:
            data["member"] = member_data
    return data


def attachment(filename: str = "screenshot.png") -> dict:
    aid = snowflake()
    return {"id": aid, "filename": filename, "size": 2048, "url": f"https://cdn.example/{aid}/{filename}",
            "proxy_url": f"https://media.example/{aid}/{filename}", "content_type": "image/png"}


def thread(tid: str, parent_id: str, guild_id: str, owner_id: str, name: str) -> dict:
    return {"id": tid, "type": 11, "guild_id": guild_id, "parent_id": parent_id, "owner_id": owner_id,
            "name": name, "last_message_id": None, "rate_limit_per_user": 0, "message_count": 0,
            "member_count": 1, "total_message_sent": 0, "flags": 0,
            "thread_metadata": {"archived": False, "auto_archive_duration": 1440, "archive_timestamp": now(),
                                "locked": False, "create_timestamp": now()}}


def text_channel(cid: str, guild_id: str, name: str, position: int, *, ctype: int = 0) -> dict:
    return {"id": cid, "type": ctype, "guild_id": guild_id, "name": name, "position": position,
            "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None,
            "rate_limit_per_user": 0, "last_message_id": None, "available_tags": [], "flags": 0}


def role(rid: str, name: str, position: int) -> dict:
    return {"id": rid, "name": name, "color": 0, "hoist": False, "position": position, "permissions": "0",
            "managed": False, "mentionable": False, "flags": 0}


@dataclass
class Person:
    id: str
    name: str
    roles: list[str] = field(default_factory=list)

    @property
    def user(self) -> dict:
        return user(self.id, self.name)

    @property
    def member(self) -> dict:
        return member(self.roles)

    @property
    def full_member(self) -> dict:
        return member(self.roles, with_user=self.user)


@dataclass
class World:
    guild_id: str = "1100000000000000001"
    app_id: str = "1100000000000000002"
    bot_id: str = "1100000000000000002"
    support_channel: str = "1100000000000000010"
    forum_channel: str = "1100000000000000011"
    agent_channel: str = "1100000000000000012"
    other_channel: str = "1100000000000000013"
    agent_role: str = "1100000000000000020"
    lead_role: str = "1100000000000000021"

    def __post_init__(self) -> None:
        self.customer = Person("1100000000000000100", "alice")
        self.agent = Person("1100000000000000101", "bob", [self.agent_role])
        self.lead = Person("1100000000000000102", "carol", [self.lead_role])
        self.stranger = Person("1100000000000000103", "dave")
        self.other_bot = user("1100000000000000104", "otherbot", bot=True)

    def bot_user(self) -> dict:
        return user(self.bot_id, "tandem", bot=True)

    def app_info(self) -> dict:
        return {"id": self.app_id, "name": "Tandem", "description": "", "icon": None, "rpc_origins": [],
                "bot_public": False, "bot_require_code_grant": False, "owner": user("1100000000000000099", "owner"),
                "verify_key": "00" * 32, "flags": 0, "team": None, "summary": "", "bot": self.bot_user(),
                "interactions_endpoint_url": None}

    def channels(self) -> list[dict]:
        g = self.guild_id
        return [text_channel(self.support_channel, g, "support", 0),
                text_channel(self.forum_channel, g, "help-forum", 1, ctype=15),
                text_channel(self.agent_channel, g, "support-staff", 2),
                text_channel(self.other_channel, g, "general", 3)]

    def channel(self, cid: str) -> dict | None:
        return next((c for c in self.channels() if c["id"] == cid), None)

    def guild_of(self, cid: str) -> str | None:
        return self.guild_id if cid != self.dm_channel else None

    dm_channel: str = "1100000000000000050"

    def guild(self, extra_threads: list | None = None) -> dict:
        g = self.guild_id
        return {"id": g, "name": "Acme", "icon": None, "owner_id": "1100000000000000099", "unavailable": False,
                "roles": [role(g, "@everyone", 0), role(self.agent_role, "agent", 1), role(self.lead_role, "lead", 2)],
                "channels": self.channels(), "threads": list(extra_threads or []), "members": [],
                "member_count": 5, "emojis": [], "stickers": [], "features": [], "large": False,
                "verification_level": 0, "default_message_notifications": 0, "explicit_content_filter": 0,
                "mfa_level": 0, "premium_tier": 0, "preferred_locale": "en-US", "nsfw_level": 0,
                "voice_states": [], "presences": [], "stage_instances": [], "guild_scheduled_events": [],
                "soundboard_sounds": [], "joined_at": "2024-01-01T00:00:00+00:00", "system_channel_flags": 0}

    # ---- gateway events -------------------------------------------------------------------------
    def customer_message(self, channel_id: str, content: str, *, person: Person | None = None, mid: str | None = None,
                         attachments: list | None = None) -> dict:
        p = person or self.customer
        return message(mid or snowflake(), channel_id, p.user, content, guild_id=self.guild_id,
                       member_data=p.member, attachments=attachments)

    def reaction(self, person: Person, message: dict, emoji: str = "🎫") -> dict:
        """MESSAGE_REACTION_ADD: `person` reacted to `message` (with the member and its roles in a guild)."""
        data = {"user_id": person.id, "channel_id": message["channel_id"], "message_id": message["id"],
                "emoji": {"id": None, "name": emoji}, "type": 0, "burst": False,
                "message_author_id": message["author"]["id"]}
        if message.get("guild_id"):
            data["guild_id"] = message["guild_id"]
            data["member"] = person.full_member
        return data

    def dm_message(self, content: str, *, person: Person | None = None) -> dict:
        p = person or self.customer
        return message(snowflake(), self.dm_channel, p.user, content)

    def _interaction(self, itype: int, data: dict, person: Person, channel_id: str, message_data: dict | None) -> dict:
        payload = {"id": snowflake(), "application_id": self.app_id, "type": itype, "data": data,
                   "guild_id": self.guild_id, "channel_id": channel_id,
                   "channel": {"id": channel_id, "type": 0, "guild_id": self.guild_id, "name": "x", "position": 0},
                   "member": person.full_member, "token": f"token-{snowflake()}", "version": 1,
                   "app_permissions": "2147483648", "locale": "en-US", "guild_locale": "en-US",
                   "entitlements": [], "authorizing_integration_owners": {"0": self.guild_id}, "context": 0,
                   "attachment_size_limit": 10_485_760}
        if message_data is not None:
            payload["message"] = message_data
        return payload

    def slash(self, person: Person, sub: str, options: dict | None = None, *, command_id: str = "1") -> dict:
        types = {int: 4, str: 3}
        opts = [{"name": k, "type": types[type(v)], "value": v} for k, v in (options or {}).items()]
        data = {"id": command_id, "name": "tandem", "type": 1, "guild_id": self.guild_id,
                "options": [{"name": sub, "type": 1, "options": opts}]}
        return self._interaction(2, data, person, self.agent_channel, None)

    def button(self, person: Person, custom_id: str, card: dict) -> dict:
        return self._interaction(3, {"custom_id": custom_id, "component_type": 2}, person, card["channel_id"], card)

    def select(self, person: Person, custom_id: str, values: list[str], card: dict) -> dict:
        """A choice in a string select menu (component type 3) on `card`: MESSAGE_COMPONENT with its values."""
        return self._interaction(3, {"custom_id": custom_id, "component_type": 3, "values": values}, person,
                                 card["channel_id"], card)

    def autocomplete(self, person: Person, sub: str, options: dict, focused: str, *, command_id: str = "1") -> dict:
        """APPLICATION_COMMAND_AUTOCOMPLETE (type 4): what the agent has typed so far, `focused` being edited."""
        types = {int: 4, str: 3}
        opts = [{"name": k, "type": types[type(v)], "value": v, **({"focused": True} if k == focused else {})}
                for k, v in options.items()]
        data = {"id": command_id, "name": "tandem", "type": 1, "guild_id": self.guild_id,
                "options": [{"name": sub, "type": 1, "options": opts}]}
        return self._interaction(4, data, person, self.agent_channel, None)

    def modal_submit(self, person: Person, custom_id: str, fields: dict[str, str | list[str]],
                     card: dict | None = None) -> dict:
        """MODAL_SUBMIT (type 5) as Discord sends a modal built of labels: each field a Label (type 18) holding a
        text input (4, its `value`) or a string select (3, its chosen `values`, empty when nothing was chosen)."""
        ids = itertools.count(1)
        labels = []
        for field_id, value in fields.items():
            inner = ({"type": 3, "id": 0, "custom_id": field_id, "values": list(value)} if isinstance(value, list)
                     else {"type": 4, "id": 0, "custom_id": field_id, "value": value})
            label_id, inner["id"] = next(ids), next(ids)
            labels.append({"type": 18, "id": label_id, "component": inner})
        return self._interaction(5, {"custom_id": custom_id, "components": labels}, person, self.agent_channel, card)
