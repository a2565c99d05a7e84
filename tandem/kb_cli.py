"""`tandem kb ...`: build a knowledge base from labelled questions, measure the drafter on them, and review what
agents taught (`pending`, `approve`, `discard`, `eval --taught`; the review itself is bot/kb_review.py).

Registered in bot/cli.py with `cli.add_command(kb)`; usable alone as `python -m tandem.kb_cli`.
"""
from __future__ import annotations

import json
import sys

import click

from bot.kb import KBError, load_kb


@click.group("kb", context_settings={"help_option_names": ["-h", "--help"]})
def kb() -> None:
    """Knowledge-base tools: import labelled questions, evaluate answer and handoff quality, review what was taught."""


@kb.command("import-csv")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--text-col", required=True, help="Column with the example question.")
@click.option("--label-col", required=True, help="Column with the label (one article per label).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="KB folder to write.")
def import_csv(file: str, text_col: str, label_col: str, out_dir: str) -> None:
    """Turn a CSV of example questions into one Markdown article per label."""
    from bot.kb_import import read_labelled_csv, write_kb

    try:
        rows = read_labelled_csv(file, text_col, label_col)
    except KBError as exc:
        raise click.ClickException(str(exc)) from exc
    written = write_kb(rows, out_dir)
    click.echo(f"wrote {len(written)} articles ({len(rows)} questions) to {out_dir}; "
               "write each answer in its file before going live", err=True)


@kb.command("eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False), required=False)
@click.option("--text-col")
@click.option("--label-col")
@click.option("--kb", "kb_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="KB folder (default: TANDEM_KB with --taught, else the bundled sample KB). Labels map to articles "
                   "by `intent:` or file name.")
@click.option("--oos-label", default=None, help="Label meaning out of scope (must be handed off).")
@click.option("--threshold", type=float, default=None, help="Handoff threshold (default: TANDEM_HANDOFF_THRESHOLD).")
@click.option("--embeddings/--no-embeddings", default=False, help="Use the optional embeddings extra.")
@click.option("--taught", is_flag=True, help="Replay every taught question (the lessons in TANDEM_DB) instead of FILE.")
@click.option("--db", "db_path", default=None, help="Database file with the lessons (default TANDEM_DB).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def eval_cmd(ctx, file, text_col, label_col, kb_dir, oos_label, threshold, embeddings, taught, db_path, quiet) -> None:
    """Print a JSON report: accuracy, handoff recall, false handoffs, latency, build time, memory.

    With --taught, every question agents taught is asked again; one that no longer reaches its article is listed
    under "broken" (article id and question) and the exit status is 1."""
    from bot.kb_eval import evaluate
    from bot.kb_import import read_labelled_csv

    settings = _settings(ctx, db_path)
    if threshold is None:
        threshold = settings.tandem_handoff_threshold
    if taught:
        return _eval_taught(settings, kb_dir, threshold, quiet)
    if not (file and text_col and label_col):
        raise click.UsageError("give FILE with --text-col and --label-col, or --taught")
    encoder = None
    if embeddings:
        from bot.drafting.embeddings import EmbeddingsUnavailable, encoder_from_env

        try:
            encoder = encoder_from_env()
        except EmbeddingsUnavailable as exc:
            raise click.ClickException(str(exc)) from exc
    try:
        articles = load_kb(kb_dir)
        rows = read_labelled_csv(file, text_col, label_col)
    except KBError as exc:
        raise click.ClickException(str(exc)) from exc
    result = evaluate(articles, rows, threshold, oos_label=oos_label, encoder=encoder,
                      progress=not quiet and sys.stderr.isatty())
    click.echo(json.dumps(result, indent=2))


def _settings(ctx: click.Context, db_path: str | None = None):
    from tandem.settings import settings_or_exit

    env_file = (ctx.find_root().obj or {}).get("env_file")
    return settings_or_exit(env_file, **({"tandem_db": db_path} if db_path else {}))


def _eval_taught(settings, kb_dir, threshold: float, quiet: bool) -> None:
    from bot.kb_eval import evaluate_taught
    from tandem.runtime import open_store

    try:
        articles = load_kb(kb_dir or settings.tandem_kb)
    except KBError as exc:
        raise click.ClickException(str(exc)) from exc
    lessons = [r for r in open_store(settings.tandem_db).lessons() if r["status"] != "discarded"]
    result = evaluate_taught(articles, lessons, threshold, progress=not quiet and sys.stderr.isatty())
    click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    for broken in result["broken"]:
        click.echo(f"broken lesson #{broken['lesson']}: {broken['question']!r} no longer reaches "
                   f"{broken['article']} (reaches {broken['reached'] or 'nothing'})", err=True)
    if result["broken"]:
        sys.exit(1)


def _review(ctx: click.Context, kb_dir: str | None, db_path: str | None, action: str, article: str | None) -> None:
    """Run `kb <action>` as the person at this terminal, a lead: the same command as in Slack, Discord, the console."""
    import getpass

    from bot.commands import invoke
    from bot.conversations import ConversationService
    from bot.drafting.retrieval import KBDrafter
    from bot.kb_live import LiveKB
    from bot.registry import Context
    from tandem.runtime import open_store
    from vocab import Actor, Role

    settings = _settings(ctx, db_path)
    root = kb_dir or settings.tandem_kb
    try:
        live = LiveKB(KBDrafter(load_kb(root)), root)
    except KBError as exc:
        raise click.ClickException(str(exc)) from exc
    store = open_store(settings.tandem_db)
    user = getpass.getuser()
    actor = Actor("cli", user, f"{user} (tandem kb)", Role.LEAD)
    result = invoke(Context(actor, store, ConversationService(settings, store), live), "kb",
                    {"action": action, "article": article})
    click.echo(result.text)
    if not result.ok:
        sys.exit(1)


def _review_command(action: str, help_text: str, *, article: bool = True) -> None:
    """`tandem kb <action> [ARTICLE] [--kb DIR] [--db FILE]`: the lead's `kb <action>` command, run here."""

    def command(ctx: click.Context, kb_dir: str | None, db_path: str | None, article: str | None = None) -> None:
        _review(ctx, kb_dir, db_path, action, article)

    command = click.pass_context(command)
    command = click.option("--db", "db_path", default=None, help="Database file (default TANDEM_DB).")(command)
    command = click.option("--kb", "kb_dir", type=click.Path(exists=True, file_okay=False), default=None,
                           help="KB folder (default TANDEM_KB).")(command)
    if article:
        command = click.argument("article")(command)
    kb.command(action, help=help_text)(command)


_review_command("pending", "List what agents taught that waits for a lead's approval.", article=False)
_review_command("approve", "Publish a taught article (it may then be sent automatically), applying a waiting answer "
                           "version.")
_review_command("discard", "Undo what teaching did to an article (a taught article is removed, taught questions "
                           "taken out).")


@kb.command("init")
@click.argument("folder", type=click.Path(file_okay=False))
def init_cmd(folder: str) -> None:
    """Copy the bundled sample knowledge base into FOLDER, to edit and teach (then set TANDEM_KB=FOLDER)."""
    import shutil
    from pathlib import Path

    from bot.kb import bundled_kb_path

    target = Path(folder)
    if target.exists() and any(target.glob("*.md")):
        raise click.ClickException(f"{target} already holds articles; nothing was copied")
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(bundled_kb_path().glob("*.md")):
        shutil.copy2(path, target / path.name)
    click.echo(f"copied the sample knowledge base to {target}: set TANDEM_KB={target} (and keep it in git)")


if __name__ == "__main__":
    kb()
