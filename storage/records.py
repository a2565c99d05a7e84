"""Row -> record mapping: SQLite rows become the records of `vocab.records` here, never in the core."""
from __future__ import annotations

from dataclasses import fields
from functools import cache
from typing import Any

from vocab.records import Conversation, Draft


@cache
def _names(cls) -> frozenset[str]:
    """The record's field names, read once per class (dataclasses.fields is slow on every row)."""
    return frozenset(f.name for f in fields(cls))


def _build(cls, row: dict[str, Any] | None):
    if row is None:
        return None
    names = _names(cls)
    if names.issuperset(row):  # a plain `SELECT *` of the record's table: every column is a field
        return cls(**row)
    return cls(**{k: v for k, v in row.items() if k in names})


def to_conversation(row: dict[str, Any] | None) -> Conversation | None:
    return _build(Conversation, row)


def to_draft(row: dict[str, Any] | None) -> Draft | None:
    return _build(Draft, row)
