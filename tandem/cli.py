"""The `tandem` command line: run, demo, ask, export (and the db, kb and digest groups).

Configuration is read once here, at start-up; a bad setting stops with one line naming it.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

import click

from bot.config import ConfigError
from bot.kb import KBError
from bot.snippets import SnippetError
from storage import DatabaseUnavailable
from storage.maintenance import MaintenanceError, RunLock
from tandem.db_cli import db
from tandem.browse import browse as browse_command
from tandem.digest_cli import digest as digest_command
from tandem.digest_cli import seed as seed_command
from tandem.kb_cli import kb
from tandem.settings import CONTEXT, command_settings as _settings, db_option, settings_or_exit, setup_logging

log = logging.getLogger("tandem")


def _version() -> str:
    try:
        return package_version("tandem-support")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:  # Ctrl-C: stop quietly on a fresh line (no "Aborted!", no traceback)
            click.echo("")
            sys.exit(130)
        except ConfigError as exc:  # from adapter settings loaded later
            raise click.ClickException(f"configuration error: {exc}") from None
        except DatabaseUnavailable as exc:
            raise click.ClickException(f"TANDEM_DB: {exc}: set TANDEM_DB to a file in a folder Tandem can write "
                                       "(the folder is created if need be)") from None
        except MaintenanceError as exc:
            raise click.ClickException(str(exc)) from None
        except KBError as exc:
            raise click.ClickException(f"knowledge base error: {exc} (set TANDEM_KB to a folder of *.md articles)"
                                       ) from None
        except SnippetError as exc:
            raise click.ClickException(f"saved replies error: {exc} (set TANDEM_SNIPPETS to a folder of *.md "
                                       "saved replies)") from None


@click.group(cls=_Group, context_settings=CONTEXT)
@click.version_option(_version(), "--version", prog_name="tandem", message="%(prog)s %(version)s")
@click.option("--env-file", default=".env", show_default=True, help="Settings file read after the environment.")
@click.pass_context
def cli(ctx: click.Context, env_file: str) -> None:
    """Tandem: the support bot where the AI drafts and humans stay in control."""
    ctx.obj = {"env_file": env_file if os.path.exists(env_file) else None}


@cli.command()
@db_option()
@click.pass_context
def run(ctx: click.Context, db_path: str | None) -> None:
    """Run Tandem on every platform whose credentials are set (the console when none is)."""
    from tandem.runtime import build_core, check_services, platform_adapters, serve

    env_file = ctx.obj["env_file"]
    settings = _settings(ctx, db_path)
    check_services(env_file)
    adapters = platform_adapters(env_file)
    console = None
    if not adapters:
        from adapters.console import ConsoleAdapter

        console = ConsoleAdapter()
        adapters = [console]
        explicit = "tandem_log_level" in settings.model_fields_set  # set in the environment or .env
        setup_logging(settings.tandem_log_level if explicit else "WARNING", settings.tandem_log_format)
    else:
        setup_logging(settings.tandem_log_level, settings.tandem_log_format)
    # held while running, so `tandem db restore` cannot replace the database under us (storage.maintenance)
    lock = None if settings.tandem_db == ":memory:" else RunLock(settings.tandem_db).acquire()
    core = build_core(settings)
    log.info("database %s, mode %s", settings.tandem_db, core.mode.value)

    async def main() -> None:
        if console is None:
            await serve(core, adapters)
            return
        await core.start()
        core.register(console)
        await console.start(core)
        try:
            await core.wait_idle(timeout=60)  # whatever a previous run left pending goes out first
            await console.run()
            await core.wait_idle(timeout=120)
        finally:
            await core.stop()

    try:
        asyncio.run(main())
    finally:
        if lock is not None:
            lock.release()


@cli.command()
@click.option("--db", "db_path", default=None, help="Database file (default: a fresh temporary one).")
@click.pass_context
def demo(ctx: click.Context, db_path: str | None) -> None:
    """Play a scripted scenario through the real core and print the transcript and a summary."""
    from tandem.demo import run_demo

    settings = settings_or_exit(ctx.obj["env_file"])
    setup_logging("WARNING", settings.tandem_log_format)
    asyncio.run(run_demo(settings, db_path))


@cli.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@db_option("Database file (default TANDEM_DB); accepted like every command's, the answer does not depend on it.")
@click.pass_context
def ask(ctx: click.Context, question: str, as_json: bool, db_path: str | None) -> None:
    """Ask the drafter one question: answer, sources, confidence and what Tandem would do with it."""
    from tandem.ask import ask_once

    settings = _settings(ctx, db_path)
    setup_logging("WARNING", settings.tandem_log_format)
    report = asyncio.run(ask_once(settings, question))
    for warning in report.get("warnings", ()):
        click.echo(f"Warning: {warning}", err=True)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    click.echo(f"Decision: {report['decision']}" + (f" ({report['reason']})" if report.get("reason") else ""))
    for why in report.get("held", ()):
        click.echo(f"Not sent automatically: {why}")
    click.echo(f"Confidence: {report['confidence']:.2f} · drafter: {report['drafter']}")
    for s in report["sources"]:
        click.echo(f"Source: {s['title']} [{s['id']}] score {s['score']:.3f}")
    click.echo("")
    click.echo(report["answer"] or "(no answer)")


@cli.command("export")
@click.option("--out", type=click.File("w", encoding="utf-8", lazy=True), default="-",
              help="Output file (default stdout).")
@db_option()
@click.pass_context
def export(ctx: click.Context, out, db_path: str | None) -> None:
    """Export every conversation with its messages, drafts and actions as JSON lines."""
    from tandem.runtime import open_store

    settings = _settings(ctx, db_path)
    if not os.path.isfile(settings.tandem_db):  # exporting must never create an empty database
        raise click.ClickException(f"no database at {settings.tandem_db} (set TANDEM_DB or pass --db)")
    store = open_store(settings.tandem_db)
    count = 0
    for conversation in store.export_conversations():
        out.write(json.dumps(conversation, ensure_ascii=False) + "\n")
        count += 1
    click.echo(f"exported {count} conversation(s)", err=True)


for group in (db, kb, digest_command, seed_command, browse_command):
    cli.add_command(group)


def main() -> None:
    cli(prog_name="tandem")


if __name__ == "__main__":
    main()
