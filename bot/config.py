"""Configuration, read once at start-up from the environment and `.env`, validated with clear messages.

Each part of Tandem declares its settings as a pydantic-settings class (the core here, each adapter in its
own package); `load_settings` turns any validation failure into one `ConfigError` line that names the
variable and says what is expected. Nothing is read at import time.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.hours import SupportHours
from vocab import Mode


def check_timezone(value: str) -> str:
    """Validate an IANA time zone name (shared by every settings class that reads TANDEM_TIMEZONE)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("must be an IANA time zone such as UTC or Asia/Jakarta") from exc
    return value


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])", re.I)
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str) -> float:
    """Seconds in a duration written like 90s, 15m, 4h, 1h30m or 2d."""
    text = value.strip().replace(" ", "")
    parts = _DURATION.findall(text)
    if not text or "".join(n + u for n, u in parts).lower() != text.lower():
        raise ValueError("must be a duration such as 90s, 15m, 4h or 1h30m")
    seconds = sum(float(n) * _UNIT[u.lower()] for n, u in parts)
    if seconds <= 0:
        raise ValueError("must be a duration above zero, such as 90s, 15m or 4h")
    return seconds


_DOMAIN = re.compile(r"(?i)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}\.?")


class ConfigError(ValueError):
    """A setting is invalid. str() is one line: VARIABLE: what is expected (got ...)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    tandem_db: str = Field("tandem.db", description="SQLite file")
    tandem_kb: Path | None = Field(None, description="knowledge base folder (default: bundled sample KB)")
    # seconds between looks at TANDEM_KB for files added, edited or removed by hand (0: never; restart instead)
    tandem_kb_poll: float = Field(2.0, ge=0.0, le=3600.0)
    # an agent approving a knowledge-base draft unchanged teaches its question to that article (bot/approvals.py)
    tandem_learn_from_approvals: bool = True
    tandem_snippets: Path | None = Field(None, description="saved replies folder (default: bundled sample set)")
    tandem_mode: Mode = Mode.REVIEW
    tandem_auto_threshold: float = Field(0.85, ge=0.0, le=1.0)
    tandem_handoff_threshold: float = Field(0.45, ge=0.0, le=1.0)
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    tandem_llm_model: str = "gpt-4o-mini"
    tandem_llm_timeout: float = Field(20.0, gt=0, le=600)
    tandem_embeddings: bool = False  # add the sentence-embedding model (the `embeddings` extra) to the KB drafter
    # where the KB questions' vectors are cached between restarts ("off": none; unset: beside TANDEM_DB)
    tandem_embeddings_cache: str | None = None
    # an OpenAI-compatible /v1/embeddings endpoint instead of the bundled model; its model name and key
    tandem_embeddings_url: str | None = None
    tandem_embeddings_model: str = "text-embedding-3-small"
    tandem_embeddings_key: str | None = None
    # the local encoder: minilm (all-MiniLM-L6-v2 int8, the `embeddings` extra) or e5-small
    # (multilingual-e5-small, the `multilingual` extra, for KBs not in English)
    tandem_embeddings_encoder: Literal["minilm", "e5-small"] = "minilm"
    tandem_embeddings_model_dir: Path | None = None  # a folder holding the bundled model's files instead
    tandem_workers: int = Field(4, ge=1, le=64)
    tandem_queue_size: int = Field(256, ge=1, le=100_000)
    tandem_support_hours: str = "Mon-Fri 09:00-17:00"
    tandem_timezone: str = "UTC"
    tandem_expected_wait_minutes: int = Field(15, ge=1, le=10_080)
    tandem_reopen_hours: float = Field(72.0, ge=0)
    tandem_log_level: str = "INFO"
    tandem_log_format: Literal["text", "json"] = "text"  # json: one JSON object a line, for log shippers
    # domains (and their subdomains) Tandem may link to, comma-separated; unset or empty: those the KB links to;
    # "none": no links at all
    tandem_link_domains: str | None = None
    # where GET /healthz is served (with /slack/events when Slack runs over HTTP; alone otherwise)
    tandem_http_host: str = "127.0.0.1"
    tandem_http_port: int = Field(3000, ge=0, le=65535)
    # days customers' texts and raw payloads are kept (`tandem db purge`, daily while running); unset: forever
    tandem_retention_days: int | None = Field(None, ge=1, le=36_500)
    # response-time targets, as durations (90s, 15m, 4h, 1h30m); unset: no target. Counted in support hours
    # unless TANDEM_SLA_CLOCK=24x7; agents are warned at TANDEM_SLA_WARN_AT of the target (bot/sla.py)
    tandem_sla_first_response: float | None = None
    tandem_sla_next_response: float | None = None
    tandem_sla_warn_at: float = Field(0.75, gt=0.0, lt=1.0)
    tandem_sla_clock: Literal["support_hours", "24x7"] = "support_hours"
    # who gets a handed-off conversation among the agents on duty (bot/routing.py)
    tandem_assign: Literal["round_robin", "least_busy", "manual"] = "round_robin"
    # status reactions on the customer's first message (unicode, :name: or name; empty: none), bot/emojis.py
    tandem_reaction_seen: str = "eyes"
    tandem_reaction_resolved: str = "white_check_mark"
    # an agent's reaction with this emoji opens a conversation for any message the bot can see (empty: off)
    tandem_ticket_emoji: str = "ticket"

    @field_validator("tandem_sla_first_response", "tandem_sla_next_response", mode="before")
    @classmethod
    def _duration(cls, value):
        if value is None or str(value).strip() == "":
            return None
        return parse_duration(str(value))

    @field_validator("tandem_kb", "tandem_snippets", mode="before")
    @classmethod
    def _folder_blank(cls, value):
        return None if value is None or str(value).strip() == "" else value

    @field_validator("tandem_kb", "tandem_snippets")
    @classmethod
    def _folder_exists(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        what = "saved replies" if info.field_name == "tandem_snippets" else "articles"
        if value is not None and not Path(value).expanduser().is_dir():
            raise ValueError(f"must be an existing folder of *.md {what}")
        return Path(value).expanduser() if value else None

    @field_validator("tandem_embeddings_url", "tandem_embeddings_key", "tandem_embeddings_model_dir",
                     "tandem_retention_days", mode="before")
    @classmethod
    def _blank_unset(cls, value):
        return None if value is None or str(value).strip() == "" else value

    @field_validator("openai_base_url", "tandem_embeddings_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value or None

    @field_validator("openai_api_key")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("tandem_support_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        SupportHours.parse(value)  # raises ValueError with the expected format
        return value

    @field_validator("tandem_timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("tandem_link_domains")
    @classmethod
    def _domains(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if value.strip().lower() == "none":
            return "none"
        for part in (p.strip() for p in value.split(",")):
            if part and not _DOMAIN.fullmatch(part):
                raise ValueError(f"must be comma-separated domain names such as example.com ({part!r} is not one)")
        return value

    @field_validator("tandem_log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return value

    @property
    def link_domains(self) -> tuple[str, ...] | None:
        """TANDEM_LINK_DOMAINS as a list ("none": empty), or None when unset (the KB's own link domains apply)."""
        if self.tandem_link_domains is None:
            return None
        if self.tandem_link_domains == "none":
            return ()
        return tuple(p.strip().lower() for p in self.tandem_link_domains.split(",") if p.strip())

    @property
    def llm_enabled(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def sla_targets(self) -> bool:
        return bool(self.tandem_sla_first_response or self.tandem_sla_next_response)

    @property
    def support_hours(self) -> SupportHours:
        return SupportHours.parse(self.tandem_support_hours, ZoneInfo(self.tandem_timezone))


S = TypeVar("S", bound=BaseSettings)


def describe_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    var = str(err["loc"][0]).upper() if err.get("loc") else "configuration"
    msg = err.get("msg", "invalid value").removeprefix("Value error, ")
    given = err.get("input")
    shown = f" (got {given!r})" if isinstance(given, (str, int, float)) and var.lower() not in _SECRET else ""
    return f"{var}: {msg}{shown}"


_SECRET = {"openai_api_key", "tandem_embeddings_key", "slack_bot_token", "slack_signing_secret", "slack_app_token",
           "discord_token"}


def load_settings(cls: type[S] = Settings, env_file: str | os.PathLike | None = ".env", **overrides) -> S:
    """Build `cls` from the environment (and `env_file`), raising ConfigError naming the bad variable."""
    try:
        return cls(_env_file=env_file, **overrides)
    except ValidationError as exc:
        raise ConfigError(describe_error(exc)) from None
