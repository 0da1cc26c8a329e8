"""PostgreSQL plumbing shared by the knowledge-base index and the debate store: named migrations
per schema, and the one error both raise when the server cannot be used.

Imported only by the PostgreSQL backends (psycopg is the optional ``banron[postgres]`` extra).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

Connection = psycopg.Connection[Any]
PgMigration = tuple[str, Callable[[Connection], None]]


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached or set up (the message says why)."""


SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class SchemaPool:
    """Pooled connections to one schema of a database, migrated on open.

    ``what`` names the data in error messages ("debate", "accounts"). Rows come back as dicts; the
    search path is the schema. Losing the server is ``DatabaseUnavailable``, not a driver error.
    """

    def __init__(
        self,
        url: str,
        schema: str,
        migrations: Sequence[PgMigration],
        *,
        what: str,
        pool_size: int = 4,
        connect_timeout: float = 10.0,
    ) -> None:
        if not SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"schema must be a lower-case SQL identifier, not {schema!r}")
        self.schema = schema
        self.what = what
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=int(connect_timeout)) as db:
                migrate(db, schema, migrations)
        except psycopg.OperationalError as e:
            raise DatabaseUnavailable(f"cannot open the {what} database: {e}".strip()) from e
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "row_factory": dict_row},
            configure=self._configure,
            open=False,
            name=f"banron-{what}-{schema}",
        )
        self._pool.open(wait=True, timeout=connect_timeout)

    def _configure(self, db: Connection) -> None:
        db.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def conn(self) -> Iterator[Connection]:
        try:
            with self._pool.connection() as db:
                yield db
        except (psycopg.OperationalError, PoolTimeout) as e:
            raise DatabaseUnavailable(f"the {self.what} database is unreachable: {e}".strip()) from e

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction: everything in it is committed together or rolled back."""
        with self.conn() as db, db.transaction():
            yield db


def migrate(db: Connection, schema: str, migrations: Sequence[PgMigration]) -> list[str]:
    """Apply, in one transaction, the named migrations this schema has not seen; returns them.

    Append-only like ``banron.util.migrate``. An advisory lock per schema makes concurrent
    callers (workers starting together) wait for each other instead of racing.
    """
    applied: list[str] = []
    with db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"banron:{schema}:migrate",))
        db.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        db.execute(sql.SQL("SET LOCAL search_path TO {}, public").format(sql.Identifier(schema)))
        db.execute(
            "CREATE TABLE IF NOT EXISTS _migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL)"
        )
        done = {r[0] for r in db.execute("SELECT name FROM _migrations")}
        for name, fn in migrations:
            if name not in done:
                fn(db)
                db.execute("INSERT INTO _migrations VALUES (%s, now())", (name,))
                applied.append(name)
    return applied


def timestamp() -> datetime:
    """The current time to the second, as ``banron.util.utc_now`` writes it for SQLite."""
    return datetime.now(UTC).replace(microsecond=0)


def iso(t: datetime) -> str:
    """A stored time read back as the UTC ISO-8601 string SQLite stores, so records compare equal."""
    return t.astimezone(UTC).isoformat(timespec="seconds")


def no_nul(value: Any) -> Any:
    """``value`` with every NUL character in its strings (also inside lists and dicts) replaced by
    U+FFFD: PostgreSQL refuses NUL in text and jsonb, and a pasted speech must not be lost for it."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, list | tuple):
        return [no_nul(v) for v in value]
    if isinstance(value, dict):
        return {no_nul(k): no_nul(v) for k, v in value.items()}
    return value
