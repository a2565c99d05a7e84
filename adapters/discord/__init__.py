"""Discord adapter package: `from_env` builds the adapter when DISCORD_TOKEN is set (runtime calls it).

Importing this package does not connect anywhere; `DiscordAdapter.start(core)` does.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from bot.config import load_settings

if TYPE_CHECKING:
    from adapters.discord.adapter import DiscordAdapter


def from_env(env_file: str | None = ".env", **overrides) -> "DiscordAdapter | None":
    """The Discord adapter, or None when DISCORD_TOKEN is unset. Raises ConfigError naming a bad variable."""
    from adapters.discord.adapter import DiscordAdapter
    from adapters.discord.config import DiscordSettings

    settings = load_settings(DiscordSettings, env_file, **overrides)
    if not settings.enabled:
        return None
    settings.check_complete()
    return DiscordAdapter(settings)
