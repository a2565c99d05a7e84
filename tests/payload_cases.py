"""The recorded payloads under tests/fixtures/payloads/ as pytest cases: one case a file, known bugs xfail."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

PAYLOADS = Path(__file__).parent / "fixtures" / "payloads"
REQUIRED = ("source", "license", "notes", "payload", "expect")


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def cases(folder: Path, xfail: dict[str, str]) -> list:
    """One pytest param per payload file, id'd by its name; a name in `xfail` is a strict xfail with the reason."""
    params = []
    for path in sorted(folder.glob("*.json")):
        marks = [pytest.mark.xfail(strict=True, reason=xfail[path.stem])] if path.stem in xfail else []
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params
