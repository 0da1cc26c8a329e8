"""Debate-store backends for the contract suite: SQLite always, PostgreSQL on the session's server.

Each PostgreSQL case gets a schema of its own on the one server ``pg_url`` starts (tests/conftest.py),
so cases never see each other's debates and no server is started unless a postgres case runs.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from banron.store.base import DebateStoreProtocol
from banron.store.sqlite import DebateStore

BACKENDS = ["sqlite", "postgres"]
_schemas = itertools.count(1)


@dataclass
class StoreBackend:
    """A store under test, how to reopen it on the same storage, and hooks to look underneath."""

    name: str
    open: Callable[[], DebateStoreProtocol]
    migrations: Callable[[], list[str]]
    execute: Callable[[str], None]  # raw SQL on the store's database (fault injection)
    store: Any = None

    def reopen(self) -> DebateStoreProtocol:
        old, self.store = self.store, self.open()
        old.close()
        return self.store

    def break_debate_updates(self) -> None:
        """Make every UPDATE of ``debates`` fail (the second statement of a turn write)."""
        if self.name == "sqlite":
            self.execute(
                "CREATE TRIGGER broken BEFORE UPDATE ON debates BEGIN SELECT RAISE(ABORT, 'injected'); END"
            )
        else:
            self.execute(
                "CREATE FUNCTION broken() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN RAISE EXCEPTION 'injected'; END $$;"
                " CREATE TRIGGER broken BEFORE UPDATE ON debates FOR EACH ROW EXECUTE FUNCTION broken()"
            )

    def mend_debate_updates(self) -> None:
        self.execute("DROP TRIGGER broken" + ("" if self.name == "sqlite" else " ON debates"))


def _sqlite_backend(tmp_path: Path) -> StoreBackend:
    path = tmp_path / "debates.sqlite"

    def migrations() -> list[str]:
        with contextlib.closing(sqlite3.connect(path)) as db:
            return [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")]

    def execute(statement: str) -> None:
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute(statement)
            db.commit()

    return StoreBackend("sqlite", lambda: DebateStore(path), migrations, execute)


def _postgres_backend(url: str) -> StoreBackend:
    import psycopg

    from banron.store.postgres import PostgresDebateStore

    schema = f"store{next(_schemas)}"

    def migrations() -> list[str]:
        with psycopg.connect(url) as db:
            rows = db.execute(f"SELECT name FROM {schema}._migrations ORDER BY applied_at, name")
            return [r[0] for r in rows]

    def execute(statement: str) -> None:
        with psycopg.connect(url, autocommit=True, options=f"-csearch_path={schema}") as db:
            db.execute(statement.encode())  # bytes: a plain query, several statements allowed

    return StoreBackend(
        "postgres", lambda: PostgresDebateStore(url, schema=schema, pool_size=4), migrations, execute
    )


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreBackend]:
    if request.param == "postgres":
        b = _postgres_backend(request.getfixturevalue("pg_url"))
    else:
        b = _sqlite_backend(tmp_path)
    b.store = b.open()
    yield b
    b.store.close()


@pytest.fixture
def store(backend: StoreBackend) -> DebateStoreProtocol:
    return backend.store
