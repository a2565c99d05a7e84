"""Storage: the only package that writes SQL. `open_db()` prepares the database, `Store` names every query."""
from storage.db import DatabaseUnavailable, open_db
from storage.store import Store

__all__ = ["DatabaseUnavailable", "open_db", "Store"]
