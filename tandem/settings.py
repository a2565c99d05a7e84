"""What every `tandem` command does first: read the settings once (one line naming a bad one) and set up logs:
human-readable lines by default, or with TANDEM_LOG_FORMAT=json one JSON object a line for log shippers
(time, level, logger, message, and conversation_id when the line is about one)."""
from __future__ import annotations

import logging
import sys

import click

from bot.config import ConfigError, Settings, load_settings


TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(level: str, fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), handlers=[handler], force=True)


def json_formatter() -> logging.Formatter:
    """One JSON object a line; a record's `extra` fields (conversation_id) and any traceback are included."""
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter("{levelname}{name}{message}", style="{", timestamp="time",  # ISO-8601 UTC
                         rename_fields={"levelname": "level", "name": "logger"}, json_ensure_ascii=False)


def settings_or_exit(env_file: str | None, **overrides) -> Settings:
    try:
        return load_settings(Settings, env_file=env_file, **overrides)
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None


CONTEXT = {"help_option_names": ["-h", "--help"]}  # every command and group answers -h as well as --help


def db_option(help_text: str = "Database file (default TANDEM_DB).", default=None):
    return click.option("--db", "db_path", default=default, help=help_text)


def command_settings(ctx: click.Context, db_path: str | None = None) -> Settings:
    """Settings from the environment and --env-file, with --db (when given) in place of TANDEM_DB."""
    return settings_or_exit(ctx.find_root().obj["env_file"], **({"tandem_db": db_path} if db_path else {}))
