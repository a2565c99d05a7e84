"""What every `tandem` command does first: read the settings once (one line naming a bad one) and set up logs."""
from __future__ import annotations

import logging
import sys

import click

from bot.config import ConfigError, Settings, load_settings


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )


def settings_or_exit(env_file: str | None, **overrides) -> Settings:
    try:
        return load_settings(Settings, env_file=env_file, **overrides)
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None
