"""The Slack adapter's settings (SLACK_* and the shared TANDEM_HTTP_*), validated once at start-up.

Comma-separated id lists are parsed here so a typo such as a channel *name* instead of an id fails at start-up
with one line naming the variable, not at 3 a.m. when the first customer writes.
"""
from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.config import ConfigError

DEFAULT_API_URL = "https://slack.com/api/"
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
IdList = Annotated[tuple[str, ...], NoDecode]


def _split(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return tuple(value)  # type: ignore[arg-type]


class SlackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    slack_bot_token: str | None = Field(None, description="bot token, xoxb-...")
    slack_signing_secret: str | None = Field(None, description="verifies HTTP requests from Slack")
    slack_app_token: str | None = Field(None, description="app-level token, xapp-...; enables Socket Mode")
    slack_api_url: str = DEFAULT_API_URL
    slack_support_channels: IdList = ()
    slack_agent_channel: str | None = None
    slack_agent_users: IdList = ()
    slack_lead_users: IdList = ()
    slack_command: str = "/tandem"
    tandem_http_host: str = "127.0.0.1"
    tandem_http_port: int = Field(3000, ge=0, le=65535)
    # What one unauthenticated client may hold on the HTTP server (see adapters/slack/server.py)
    tandem_http_header_timeout: float = Field(10.0, gt=0, le=300)
    tandem_http_body_timeout: float = Field(10.0, gt=0, le=300)
    tandem_http_max_pending: int = Field(256, ge=1, le=100_000)
    tandem_http_large_bodies: int = Field(8, ge=1, le=10_000)

    @field_validator("slack_bot_token", "slack_signing_secret", "slack_app_token", "slack_agent_channel",
                     mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: str | None) -> str | None:
        if value and not value.startswith("xoxb-"):
            raise ValueError("expected a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: str | None) -> str | None:
        if value and not value.startswith("xapp-"):
            raise ValueError("expected an app-level token starting with xapp- (or leave it unset for HTTP mode)")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        value = value.strip() or DEFAULT_API_URL
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("slack_support_channels", mode="before")
    @classmethod
    def _channels(cls, value: object) -> tuple[str, ...]:
        ids = _split(value)
        bad = [i for i in ids if not _CHANNEL.match(i)]
        if bad:
            raise ValueError(f"expected comma-separated channel ids like C0123ABCD (got {bad[0]!r})")
        return ids

    @field_validator("slack_agent_channel")
    @classmethod
    def _agent_channel(cls, value: str | None) -> str | None:
        if value and not _CHANNEL.match(value):
            raise ValueError("expected a channel id like C0123ABCD, not a channel name")
        return value

    @field_validator("slack_agent_users", "slack_lead_users", mode="before")
    @classmethod
    def _users(cls, value: object) -> tuple[str, ...]:
        ids = _split(value)
        bad = [i for i in ids if not _USER.match(i)]
        if bad:
            raise ValueError(f"expected comma-separated user ids like U0123ABCD (got {bad[0]!r})")
        return ids

    @field_validator("slack_command")
    @classmethod
    def _command(cls, value: str) -> str:
        if not re.fullmatch(r"/[a-z0-9_\-]{1,31}", value.strip()):
            raise ValueError("expected a slash command such as /tandem")
        return value.strip()

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)

    def check(self) -> "SlackSettings":
        """Cross-field rules, checked once the bot token says Slack is wanted. Raises ConfigError."""
        if not self.slack_bot_token:
            raise ConfigError("SLACK_BOT_TOKEN: required to run the Slack adapter")
        if not self.socket_mode and not self.slack_signing_secret:
            raise ConfigError("SLACK_SIGNING_SECRET: required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)")
        if not self.slack_agent_channel:
            raise ConfigError("SLACK_AGENT_CHANNEL: required: the channel id where review cards go")
        if self.slack_agent_channel in self.slack_support_channels:
            raise ConfigError(f"SLACK_AGENT_CHANNEL: must not also be a support channel (got {self.slack_agent_channel!r})")
        if not (self.slack_agent_users or self.slack_lead_users):
            raise ConfigError("SLACK_AGENT_USERS: at least one agent or lead user id is needed to review drafts")
        return self
