"""`tandem kb ...`: build a knowledge base from labelled questions and measure the drafter on them.

Registered in bot/cli.py with `cli.add_command(kb)`; usable alone as `python -m tandem.kb_cli`.
"""
from __future__ import annotations

import json
import sys

import click

from bot.kb import KBError, load_kb


@click.group("kb", context_settings={"help_option_names": ["-h", "--help"]})
def kb() -> None:
    """Knowledge-base tools: import labelled questions, evaluate answer and handoff quality."""


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
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--text-col", required=True)
@click.option("--label-col", required=True)
@click.option("--kb", "kb_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="KB folder (default: the bundled sample KB). Labels map to articles by `intent:` or file name.")
@click.option("--oos-label", default=None, help="Label meaning out of scope (must be handed off).")
@click.option("--threshold", type=float, default=None, help="Handoff threshold (default: TANDEM_HANDOFF_THRESHOLD).")
@click.option("--embeddings/--no-embeddings", default=False, help="Use the optional embeddings extra.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def eval_cmd(file, text_col, label_col, kb_dir, oos_label, threshold, embeddings, quiet) -> None:
    """Print a JSON report: accuracy, handoff recall, false handoffs, latency, build time, memory."""
    from bot.kb_eval import evaluate
    from bot.kb_import import read_labelled_csv

    if threshold is None:
        from bot.config import Settings

        threshold = Settings().tandem_handoff_threshold
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


if __name__ == "__main__":
    kb()
