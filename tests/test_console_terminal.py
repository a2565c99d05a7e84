"""The console as a person uses it: `tandem run` in a real pseudo-terminal (framed cards with rendered Markdown,
Ctrl-C quits at once and quietly), and the command line's --version, -h, --db and export's missing database."""
from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time

from tests.conftest import FIXTURE_KB
from tests.test_console import REPO, tandem

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
ARTICLE = """---
title: Changing a payment date
questions:
  - Can I change my payment due date?
  - change the date of my next payment
---
You can move a payment date once per order, by up to 14 days.

1. Open **Payments** in the app.
2. Tap *Change date* and pick the new day.
"""


class Terminal:
    """`tandem run` on a pseudo-terminal that is its controlling terminal, 100 columns wide."""

    def __init__(self, env: dict, cwd):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the pty is its stdin, stdout, stderr and controlling terminal
            os.chdir(cwd)
            os.execve(sys.executable, [sys.executable, "-m", "tandem.cli", "run"], env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
        self.seen = ""

    def read_until(self, needle: str, limit: float = 60, after: str = "") -> str:
        """Read until `needle` shows (after the last `after`, when given: a prompt seen earlier does not count)."""
        deadline = time.monotonic() + limit
        while needle not in (self.seen.rsplit(after, 1)[-1] if after and after in self.seen else
                             ("" if after else self.seen)):
            left = deadline - time.monotonic()
            assert left > 0, f"never saw {needle!r}:\n{self.text}"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # the child closed the terminal
                    chunk = b""
                assert chunk, f"terminal closed before {needle!r}:\n{self.text}"
                self.seen += chunk.decode("utf-8", "replace")
        return self.text

    @property
    def text(self) -> str:
        return ANSI.sub("", self.seen).replace("\r", "")

    def send(self, data: str) -> None:
        os.write(self.fd, data.encode())

    def wait(self, limit: float = 20) -> int | None:
        """The exit status, or None if still running after `limit` seconds (then it is killed)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.1)
                if ready:
                    self.seen += os.read(self.fd, 65536).decode("utf-8", "replace")
            except OSError:
                pass
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        return None


def _env(tmp_path, kb) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TANDEM_", "OPENAI_", "SLACK_", "DISCORD_"))}
    env.pop("COLUMNS", None)
    env.update(PYTHONPATH=str(REPO), TERM="xterm-256color", TANDEM_DB=str(tmp_path / "tty.db"), TANDEM_KB=str(kb),
               TANDEM_SUPPORT_HOURS="24/7")
    return env


def _card(text: str, heading: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if heading in line)
    end = next(i for i in range(start, len(lines)) if lines[i].lstrip().startswith("╰"))
    return lines[start:end + 1]


def test_card_keeps_its_frame_around_a_multi_line_markdown_draft_and_ctrl_c_quits_quietly(tmp_path):
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "change-date.md").write_text(ARTICLE)
    term = Terminal(_env(tmp_path, kb), tmp_path)
    status = "running"
    try:
        term.read_until("> ")
        term.send("Can I change my payment due date?\n")
        term.read_until("/reject d1")
        text = term.read_until("> ", limit=60, after="/reject d1")  # the prompt that follows the card
        card = _card(text, "conversation #1 (updated)")
        assert card[0].lstrip().startswith("╭") and card[-1].lstrip().startswith("╰"), card
        body = card[1:-1]
        assert body and all(line.strip().startswith("│") and line.strip().endswith("│") for line in body), card
        inside = "\n".join(body)
        assert "Open Payments in the app." in inside and "Change date and pick the new day." in inside, card
        assert "**" not in inside and "*Change" not in inside, card  # Markdown rendered, not shown raw
        from rich.cells import cell_len

        assert max(cell_len(line) for line in card) <= 100, card
        term.send("\x03")  # Ctrl-C at the prompt
        status = term.wait(60)
    finally:
        if status == "running":  # the test failed early: do not leave the child behind
            term.wait(0.1)
    assert status == 130, f"exit status {status}:\n{term.text}"
    after = term.text.split("/reject d1")[-1]
    assert "Aborted" not in after and "Traceback" not in after and "Error" not in after, after


def test_piped_input_is_echoed_with_control_characters_escaped(tmp_path):
    env = {"TANDEM_DB": str(tmp_path / "c.db"), "TANDEM_KB": str(FIXTURE_KB), "TANDEM_SUPPORT_HOURS": "24/7"}
    result = tandem("run", stdin="hi \x1b[2Jthere\x07\n/queue \x1b]0;x\x07\n", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "[customer] hi \\x1b[2Jthere\\x07" in result.stdout
    assert "[agent agent] /queue \\x1b]0;x\\x07" in result.stdout
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout


def test_piped_cards_are_framed_and_stable_whatever_columns_says(tmp_path):
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "change-date.md").write_text(ARTICLE)
    env = {"TANDEM_DB": str(tmp_path / "c.db"), "TANDEM_KB": str(kb), "TANDEM_SUPPORT_HOURS": "24/7", "COLUMNS": "40"}
    result = tandem("run", stdin="Can I change my payment due date?\n", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    card = _card(result.stdout, "conversation #1 (updated)")
    from rich.cells import cell_len

    assert all(cell_len(line) == cell_len(card[0]) == 100 for line in card), card  # one width: the frame is closed
    assert all(line.strip().startswith("│") and line.strip().endswith("│") for line in card[1:-1]), card
    assert "1 Open Payments in the app." in result.stdout and "**" not in result.stdout


def test_version_and_short_help_everywhere(tmp_path):
    from importlib.metadata import version

    shown = tandem("--version", cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout.strip() == f"tandem {version('tandem-support')}"
    for args in ([], ["run"], ["demo"], ["ask"], ["export"], ["db"], ["db", "migrate"], ["kb"], ["kb", "eval"],
                 ["digest"], ["seed"]):
        short, long = tandem(*args, "-h", cwd=tmp_path), tandem(*args, "--help", cwd=tmp_path)
        assert short.returncode == 0, (args, short.stderr)
        assert short.stdout == long.stdout and "Usage:" in short.stdout and "-h, --help" in short.stdout, args


def test_every_command_that_reads_the_database_takes_db(tmp_path):
    db = tmp_path / "elsewhere.db"
    script = tandem("run", "--db", str(db), stdin="hello\n", env={"TANDEM_KB": str(FIXTURE_KB)}, cwd=tmp_path)
    assert script.returncode == 0, script.stderr
    assert not (tmp_path / "tandem.db").exists()  # the default was not touched
    exported = tandem("export", "--db", str(db), cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert [m["text"] for m in __import__("json").loads(exported.stdout)["messages"]][0] == "hello"
    migrated = tandem("db", "migrate", "--db", str(tmp_path / "m.db"), cwd=tmp_path)
    assert migrated.returncode == 0 and str(tmp_path / "m.db") in migrated.stdout
    asked = tandem("ask", "--db", str(db), "--json", "How does pay in 4 work?", env={"TANDEM_KB": str(FIXTURE_KB)},
                   cwd=tmp_path)
    assert asked.returncode == 0, asked.stderr
    for args in (["run"], ["demo"], ["ask"], ["export"], ["db", "migrate"], ["digest"], ["seed"]):
        assert "--db" in tandem(*args, "-h", cwd=tmp_path).stdout, args


def test_export_of_a_missing_database_says_so_and_creates_nothing(tmp_path):
    missing = tmp_path / "nope" / "missing.db"
    result = tandem("export", "--db", str(missing), cwd=tmp_path)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0 and len(lines) == 1 and "no database at" in lines[0] and str(missing) in lines[0]
    assert not missing.exists() and not missing.parent.exists() and result.stdout == ""
    out = tmp_path / "out.jsonl"
    by_env = tandem("export", "--out", str(out), env={"TANDEM_DB": str(missing)}, cwd=tmp_path)
    assert by_env.returncode != 0 and "no database at" in by_env.stderr and not out.exists()
