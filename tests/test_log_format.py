"""TANDEM_LOG_FORMAT=json: `tandem run` writes one JSON object per log line on stderr (time, level, logger,
message, and conversation_id on a line about a conversation), for log shippers; the default stays text."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from tests.conftest import FIXTURE_KB
from tests.test_console import tandem

SCENARIO = "How does pay in 4 work?\nbob> I want to talk to a real person\n/queue\n"


def run(tmp_path, **env: str):
    base = {"TANDEM_DB": str(tmp_path / "t.db"), "TANDEM_KB": str(FIXTURE_KB), "TANDEM_SUPPORT_HOURS": "24/7",
            "TANDEM_LOG_LEVEL": "INFO"}
    result = tandem("run", stdin=SCENARIO, env={**base, **env}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return result.stderr.splitlines()


def test_json_logs_are_one_object_a_line_with_the_conversation(tmp_path):
    lines = run(tmp_path, TANDEM_LOG_FORMAT="json")
    assert lines, "INFO logs were written"
    records = [json.loads(line) for line in lines]  # every line parses
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record), record
        assert record["level"] in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
        assert datetime.fromisoformat(record["time"]).utcoffset() == timedelta(0)  # ISO-8601, UTC
    handoff = [r for r in records if "handed off" in r["message"]]
    assert handoff and handoff[0]["conversation_id"] == 2, records
    assert handoff[0]["logger"] == "bot.conversations"


def test_text_logs_stay_the_default(tmp_path):
    lines = run(tmp_path)
    assert any("INFO    bot.conversations: conversation #2 handed off" in line for line in lines), lines
    assert not any(line.startswith("{") for line in lines)
