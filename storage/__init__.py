"""Storage: the only package that writes SQL. `open_db()` prepares the database, `Store` names every query."""
from storage.db import open_db
from storage.store import Store

__all__ = ["open_db", "Store"]
