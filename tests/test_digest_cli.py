"""`tandem seed` and `tandem digest` as a user runs them: a synthetic week, the text, JSON and PNG digest."""
from __future__ import annotations

import json
import struct

from bot.digest.chart import HEIGHT, WIDTH
from tests.test_console import tandem


def test_seed_then_digest_as_text_json_and_png(tmp_path):
    db = str(tmp_path / "week.db")
    seeded = tandem("seed", "--days", "7", "--per-day", "20", "--db", db, cwd=tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    assert "conversations over 7 days written" in seeded.stdout

    png = tmp_path / "chart.png"
    text = tandem("digest", "--db", db, "--png", str(png), cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "Acceptance:" in text.stdout and "Handoffs:" in text.stdout and "slack" in text.stdout
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    assert (width, height) == (WIDTH, HEIGHT)

    report = json.loads(tandem("digest", "--db", db, "--json", "--days", "7", cwd=tmp_path).stdout)
    current = report["current"]
    assert current["opened"] > 50 and set(current["by_platform"]) == {"slack", "discord"}
    assert current["opened"] == current["resolved"] + current["still_open"]
    decided = sum(current["drafts"][k] for k in ("approved", "edited", "rejected"))
    assert decided > 0


def test_post_without_a_platform_is_a_clear_error(tmp_path):
    result = tandem("digest", "--db", str(tmp_path / "empty.db"), "--post", cwd=tmp_path)
    assert result.returncode != 0 and "no platform is configured" in result.stderr
