"""Slack adapter: customers in support channels and DMs, agents on review cards and the slash command.

    adapter = adapters.slack.from_env()      # None when SLACK_BOT_TOKEN is unset
    if adapter:
        core.register(adapter)
        await adapter.start(core)
"""
from __future__ import annotations

import logging
import os

from bot.config import load_settings

from .config import SlackSettings

log = logging.getLogger(__name__)

__all__ = ["SlackSettings", "from_env", "load"]


def load(env_file: str | os.PathLike | None = ".env", **overrides) -> SlackSettings | None:
    """Validated settings, or None when Slack is not configured. Raises ConfigError naming the variable."""
    settings = load_settings(SlackSettings, env_file, **overrides)
    if not settings.slack_bot_token:
        if settings.slack_signing_secret or settings.slack_app_token or settings.slack_agent_channel:
            log.warning("slack: SLACK_* variables are set but SLACK_BOT_TOKEN is not; Slack stays off")
        return None
    return settings.check()


def from_env(env_file: str | os.PathLike | None = ".env", **overrides):
    """A SlackAdapter built from the environment (and `env_file`), or None when SLACK_BOT_TOKEN is unset."""
    settings = load(env_file, **overrides)
    if settings is None:
        return None
    from .adapter import SlackAdapter

    return SlackAdapter(settings)
