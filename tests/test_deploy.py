"""The systemd unit in deploy/ is one systemd accepts: checked with `systemd-analyze verify` where it exists,
with ExecStart pointed at this checkout's own `tandem` (the unit's /opt/tandem path exists only on a server)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent.parent / "deploy" / "tandem.service"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_the_systemd_unit_verifies(tmp_path):
    tandem = Path(sys.executable).with_name("tandem")
    assert tandem.is_file(), "the tandem command is installed beside this Python"
    unit = tmp_path / "tandem.service"
    unit.write_text(UNIT.read_text().replace("/opt/tandem/.venv/bin/tandem", str(tandem)))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_unit_runs_tandem_with_a_private_database():
    text = UNIT.read_text()
    assert "ExecStart=/opt/tandem/.venv/bin/tandem run" in text
    assert "UMask=0077" in text and "StateDirectoryMode=0700" in text  # the log is readable by Tandem alone
    assert "Environment=TANDEM_DB=/var/lib/tandem/tandem.db" in text and "ReadWritePaths=/var/lib/tandem" in text
