"""Start-up failures stop `tandem run` with one line naming the setting or service and what to do.

Each case runs the real command in a subprocess (tests/test_console.py's `tandem()`): the exit status is
non-zero, stderr holds no traceback, and its last line names the setting. Unreachable services are closed
ports on 127.0.0.1. Settings are read from the environment and from `.env` alike.
"""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.test_console import FIXTURE_KB, tandem
from tests.test_kb_embeddings import embeddings_server  # noqa: F401  (fixture)

SLACK = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "secret", "SLACK_AGENT_CHANNEL": "CAGENTS1",
         "SLACK_AGENT_USERS": "UAGENT1", "SLACK_SUPPORT_CHANNELS": "CSUPPORT1", "TANDEM_HTTP_PORT": "0"}


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(tmp_path: Path, **extra: str) -> dict:
    return {"TANDEM_DB": str(tmp_path / "tandem.db"), "TANDEM_KB": str(FIXTURE_KB),
            "TANDEM_SUPPORT_HOURS": "24/7", **extra}


def assert_one_line_failure(result, *names: str) -> str:
    assert result.returncode != 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "nothing said on stderr"
    last = lines[-1]
    for name in names:
        assert name in last, result.stderr
    errors = [line for line in lines if line.startswith("Error")]
    assert errors == [last], result.stderr
    return last


@pytest.mark.parametrize("where", ["directory", "under-a-file"])
def test_an_unopenable_database_is_one_line_naming_tandem_db(tmp_path, where):
    if where == "directory":
        target = tmp_path / "a-folder"
        target.mkdir()
    else:
        blocker = tmp_path / "plain-file"
        blocker.write_text("not a folder")
        target = blocker / "tandem.db"
    result = tandem("run", stdin="", env=base_env(tmp_path, TANDEM_DB=str(target)), cwd=tmp_path)
    line = assert_one_line_failure(result, "TANDEM_DB")
    assert str(target) in line


def test_an_unreachable_slack_api_is_one_line_naming_slack_api_url(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/api/"
    result = tandem("run", env=base_env(tmp_path, **SLACK, SLACK_API_URL=url), cwd=tmp_path)
    line = assert_one_line_failure(result, "SLACK_API_URL", "auth.test")
    assert url in line


def test_an_unreachable_embeddings_endpoint_is_one_line_naming_its_setting(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    env = base_env(tmp_path, TANDEM_EMBEDDINGS="true", TANDEM_EMBEDDINGS_URL=url, TANDEM_EMBEDDINGS_CACHE="off")
    result = tandem("run", stdin="", env=env, cwd=tmp_path)
    line = assert_one_line_failure(result, "TANDEM_EMBEDDINGS_URL")
    assert url in line


@pytest.mark.parametrize("platform", ["console", "slack"])
def test_a_bad_digest_cron_stops_start_up_before_anything_listens(tmp_path, platform):
    env = base_env(tmp_path, TANDEM_DIGEST_CRON="every monday")
    if platform == "slack":  # the check must come first: this API would never answer
        env.update(SLACK, SLACK_API_URL=f"http://127.0.0.1:{closed_port()}/api/")
    result = tandem("run", stdin="", env=env, cwd=tmp_path)
    assert_one_line_failure(result, "TANDEM_DIGEST_CRON")
    assert not (tmp_path / "tandem.db").exists(), "start-up went on past the bad setting"


def test_dot_env_sets_the_embeddings_endpoint(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    (tmp_path / ".env").write_text(f"TANDEM_EMBEDDINGS=true\nTANDEM_EMBEDDINGS_URL={url}\nTANDEM_EMBEDDINGS_CACHE=off\n")
    result = tandem("run", stdin="", env=base_env(tmp_path), cwd=tmp_path)
    line = assert_one_line_failure(result, "TANDEM_EMBEDDINGS_URL")
    assert url in line, "the endpoint set in .env was not the one asked"


def test_dot_env_embeddings_model_and_log_level_are_honoured(tmp_path, embeddings_server):  # noqa: F811
    (tmp_path / ".env").write_text(
        "TANDEM_EMBEDDINGS=true\n"
        f"TANDEM_EMBEDDINGS_URL=http://127.0.0.1:{embeddings_server.server_port}/v1\n"
        "TANDEM_EMBEDDINGS_MODEL=letters\nTANDEM_EMBEDDINGS_CACHE=off\nTANDEM_LOG_LEVEL=INFO\n")
    result = tandem("run", stdin="", env=base_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "with embeddings from letters" in result.stderr, result.stderr  # an INFO line: the level came too
    assert embeddings_server.requests, "the endpoint from .env was not asked"


def test_dot_env_sets_the_log_level_on_the_console(tmp_path):
    (tmp_path / ".env").write_text("TANDEM_LOG_LEVEL=INFO\n")
    result = tandem("run", stdin="", env=base_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"database {tmp_path / 'tandem.db'}, mode review" in result.stderr, result.stderr
