"""Discord settings, read once at start-up and validated so a typo fails with one line naming the variable.

Ids are Discord snowflakes (digits). The two optional base URLs let the adapter talk to a proxy or to the
test fake instead of discord.com; they are applied per client in one place (`urls.BaseURLs`).
"""
from __future__ import annotations

import re

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.config import ConfigError

DEFAULT_API_URL = "https://discord.com/api/v10"

_SNOWFLAKE = re.compile(r"^\d{1,20}$")


def _snowflake(value: str | int | None, *, required: bool) -> str | None:
    text = "" if value is None else str(value).strip()
    if not text:
        if required:
            raise ValueError("must be set to a Discord id (digits; Developer Mode > Copy ID)")
        return None
    if not _SNOWFLAKE.match(text):
        raise ValueError("must be a Discord id made of digits (Developer Mode > Copy ID)")
    return text


class DiscordSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    discord_token: str | None = Field(None, description="bot token (Developer Portal > Bot > Reset Token)")
    discord_support_channels: str = Field("", description="comma-separated ids of channels customers write in")
    discord_agent_channel: str | None = Field(None, description="staff channel id for review cards")
    discord_agent_role: str | None = Field(None, description="role id of support agents")
    discord_lead_role: str | None = Field(None, description="role id of support leads")
    discord_guild_id: str | None = Field(None, description="sync app commands to this guild at once")
    discord_api_url: str | None = Field(None, description="REST base URL, e.g. https://discord.com/api/v10")
    discord_gateway_url: str | None = Field(None, description="gateway URL, e.g. wss://gateway.discord.gg/")

    @field_validator("discord_token")
    @classmethod
    def _token(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        if value and (" " in value or len(value) < 20):
            raise ValueError("must be the bot token from the Developer Portal (Bot > Reset Token)")
        return value or None

    @field_validator("discord_support_channels")
    @classmethod
    def _channels(cls, value: str) -> str:
        ids = [part.strip() for part in (value or "").split(",") if part.strip()]
        for part in ids:
            if not _SNOWFLAKE.match(part):
                raise ValueError(f"must be comma-separated Discord channel ids (digits); {part!r} is not one")
        return ",".join(ids)

    @field_validator("discord_agent_channel", "discord_agent_role", "discord_lead_role", "discord_guild_id",
                     mode="before")
    @classmethod
    def _ids(cls, value: str | int | None) -> str | None:
        return _snowflake(value, required=False)

    @field_validator("discord_api_url")
    @classmethod
    def _api_url(cls, value: str | None) -> str | None:
        value = (value or "").strip().rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL such as https://discord.com/api/v10")
        return value or None

    @field_validator("discord_gateway_url")
    @classmethod
    def _gateway_url(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        if value and not value.startswith(("ws://", "wss://")):
            raise ValueError("must be a ws:// or wss:// URL such as wss://gateway.discord.gg/")
        return value or None

    @property
    def enabled(self) -> bool:
        return self.discord_token is not None

    @property
    def support_channels(self) -> frozenset[str]:
        return frozenset(filter(None, self.discord_support_channels.split(",")))

    def check_complete(self) -> None:
        """With a token set, the channels the adapter cannot work without must be set too."""
        if not self.support_channels:
            raise ConfigError("DISCORD_SUPPORT_CHANNELS: must list at least one channel id when DISCORD_TOKEN is set")
        if not self.discord_agent_channel:
            raise ConfigError("DISCORD_AGENT_CHANNEL: must be set to the staff channel id when DISCORD_TOKEN is set")
        if not (self.discord_agent_role or self.discord_lead_role):
            raise ConfigError("DISCORD_AGENT_ROLE: set it (or DISCORD_LEAD_ROLE) so someone may review drafts")
