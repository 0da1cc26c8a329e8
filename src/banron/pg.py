"""PostgreSQL plumbing shared by the knowledge-base index and the debate store: named migrations
per schema, and the one error both raise when the server cannot be used.

Imported only by the PostgreSQL backends (psycopg is the optional ``banron[postgres]`` extra).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import sql

Connection = psycopg.Connection[Any]
PgMigration = tuple[str, Callable[[Connection], None]]


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached or set up (the message says why)."""


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
