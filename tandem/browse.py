"""`tandem browse`: the log opened in Datasette, read-only, on 127.0.0.1, with every table and column described
and the queries a support lead wants on day one (tandem/browse_metadata.yml).

Datasette is an optional extra (`pip install -e '.[browse]'`) and runs as a child process (`python -m
datasette`), so nothing of it is imported into Tandem. By default the file is opened the way Datasette opens a
database it may not write (SQLite `mode=ro`): it sees what a running Tandem writes, WAL included, and cannot
change a byte. `--immutable` uses Datasette's immutable mode instead, which is faster but reads only the main
file: rows a running Tandem still holds in the write-ahead log stay invisible, so keep it for copies and backups.

127.0.0.1 is reachable by every user of the machine, and the log is kept 0600 so that they cannot read it; so
Datasette admits only its root actor (`--root`, and `allow: {id: root}` in the metadata): it prints a one-use
sign-in link, and whoever opens it first gets a signed cookie for this run.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

import click

from tandem.settings import settings_or_exit

INSTALL_HINT = "tandem browse needs Datasette, which is not installed: pip install -e '.[browse]'"
HOST = "127.0.0.1"  # never another interface: the log holds every conversation


def datasette_missing() -> str | None:
    """One line saying how to install Datasette when it cannot be imported, else None."""
    try:
        import datasette  # noqa: F401
        import yaml  # noqa: F401  (a dependency of Datasette)
    except ImportError:
        return INSTALL_HINT
    return None


def metadata(database_name: str) -> dict:
    """The shipped metadata, with its descriptions and queries filed under the name Datasette gives the file
    (its stem: tandem.db is served at /tandem)."""
    import yaml

    text = resources.files("tandem").joinpath("browse_metadata.yml").read_text(encoding="utf-8")
    meta = yaml.safe_load(text)
    meta["databases"] = {database_name: meta["databases"]["tandem"]}
    return meta


def datasette_args(db_file: Path, port: int, metadata_file: Path, *, immutable: bool) -> list[str]:
    return [sys.executable, "-m", "datasette", "serve", *(["-i"] if immutable else []), str(db_file),
            "--host", HOST, "--port", str(port), "--metadata", str(metadata_file), "--root"]


def _stop(child: subprocess.Popen) -> int:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return child.returncode


@click.command()
@click.option("--db", "db_path", default=None, help="Database file (default: TANDEM_DB).")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(1, 65535), help="Port on 127.0.0.1.")
@click.option("--immutable", is_flag=True,
              help="Datasette's immutable mode: faster, but blind to rows still in the WAL (for copies/backups).")
@click.pass_context
def browse(ctx: click.Context, db_path: str | None, port: int, immutable: bool) -> None:
    """Open the log in Datasette, read-only, with descriptions and canned queries (the queue now, edited
    drafts, handoffs this week, knowledge-base gaps, one conversation's history)."""
    missing = datasette_missing()
    if missing:
        raise click.ClickException(missing)
    env_file = (ctx.find_root().obj or {}).get("env_file")
    path = Path(db_path or settings_or_exit(env_file).tandem_db).expanduser()
    if not path.is_file():
        raise click.ClickException(f"no database at {path}: give --db FILE, or set TANDEM_DB "
                                   "(`tandem seed --db FILE` writes a sample one)")
    with tempfile.TemporaryDirectory(prefix="tandem-browse-") as folder:
        meta_file = Path(folder) / "metadata.json"
        meta_file.write_text(json.dumps(metadata(path.stem), ensure_ascii=False), encoding="utf-8")
        click.echo(f"Browsing {path} read-only at http://{HOST}:{port}/{path.stem} (Ctrl-C to stop). "
                   "Sign in with the one-use link below; other users of this machine get 403.", err=True)
        env = dict(os.environ, PYTHONUNBUFFERED="1")  # the sign-in link shows at once, even through a pipe
        child = subprocess.Popen(datasette_args(path, port, meta_file, immutable=immutable), env=env)

        def on_term(signum, frame):  # a stopped `tandem browse` never leaves Datasette running
            raise SystemExit(128 + signum)

        previous = signal.signal(signal.SIGTERM, on_term)
        try:
            code = child.wait()
        except KeyboardInterrupt:
            code = 0
        finally:
            code = _stop(child) if child.poll() is None else child.returncode
            signal.signal(signal.SIGTERM, previous)
    if code not in (0, -signal.SIGINT, -signal.SIGTERM):
        raise SystemExit(code)
