"""Search indexes behind one protocol (SQLite embedded default; PostgreSQL later)."""

from banron.kb.index.base import KBInfo, SearchIndex, StoredPassage
from banron.kb.index.sqlite import SQLiteIndex

__all__ = ["KBInfo", "SQLiteIndex", "SearchIndex", "StoredPassage"]
