"""Debates and their turns in PostgreSQL: the store shared by any number of stateless web workers.

``PostgresDebateStore(url)`` implements ``DebateStoreProtocol`` like the SQLite ``DebateStore`` and
passes the same contract tests (``tests/store/``): the same records, ordering and errors, each turn
committed in one transaction with the debate's ``updated_at``. A server that cannot be reached, at
start-up or later, raises ``DatabaseUnavailable`` (the write, if any, was not committed).

Layout (schema ``banron_store`` by default, created by named, append-only migrations recorded in
its ``_migrations`` table, under the same advisory lock as the knowledge-base index's):

* ``debates``: one row per debate; ``kbs`` and ``motion`` are ``jsonb``, times ``timestamptz``;
* ``turns``: ``(debate_id, n)`` is the primary key, so a turn number is written once;
  ``citations``, ``claims`` and ``warnings`` are ``jsonb``.

Times are kept to the second, like ``banron.util.utc_now``, and read back as the same UTC
ISO-8601 strings, so records compare equal across backends. PostgreSQL refuses the NUL character
in text and ``jsonb``; it is stored as U+FFFD (a pasted speech with a stray NUL is not lost).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

from banron.domain import Citation, Claim, Motion, Side, Turn
from banron.store.base import DebateRecord, DuplicateTurn, Status, UnknownDebate

try:
    import psycopg
    from psycopg import errors
    from psycopg.types.json import Jsonb

    from banron.pg import DatabaseUnavailable, PgMigration, SchemaPool, iso, no_nul, timestamp
except ImportError as e:  # pragma: no cover - depends on the optional extra
    raise ImportError(
        "the PostgreSQL store needs psycopg and psycopg-pool: pip install 'banron[postgres]'"
    ) from e

__all__ = ["MIGRATIONS", "DatabaseUnavailable", "PostgresDebateStore"]

Connection = psycopg.Connection[Any]


def _m001_debates(db: Connection) -> None:
    # The SQLite store's m001..m003 in one step: this backend starts where that one is today.
    db.execute(
        """CREATE TABLE debates (
            id text PRIMARY KEY,
            motion_id text NOT NULL,
            motion_text text NOT NULL,
            student_side text NOT NULL,
            format text NOT NULL DEFAULT 'free',
            kbs jsonb NOT NULL DEFAULT '[]',
            lang text NOT NULL DEFAULT '',
            motion jsonb,
            exhibition boolean NOT NULL DEFAULT false,
            status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'finished')),
            owner text,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL
        )"""
    )
    db.execute("CREATE INDEX debates_owner ON debates (owner, created_at)")
    db.execute("CREATE INDEX debates_created ON debates (created_at DESC, id)")
    db.execute(
        """CREATE TABLE turns (
            debate_id text NOT NULL REFERENCES debates(id) ON DELETE CASCADE,
            n integer NOT NULL,
            speaker text NOT NULL,
            side text NOT NULL,
            lang text NOT NULL,
            text text NOT NULL,
            citations jsonb NOT NULL DEFAULT '[]',
            claims jsonb NOT NULL DEFAULT '[]',
            phase text NOT NULL DEFAULT '',
            part text NOT NULL DEFAULT 'speech',
            warnings jsonb NOT NULL DEFAULT '[]',
            created_at timestamptz NOT NULL,
            PRIMARY KEY (debate_id, n)
        )"""
    )


# Named, append-only: never edit or reorder an entry; add a new one.
MIGRATIONS: list[PgMigration] = [("store_m001_debates", _m001_debates)]


class PostgresDebateStore:
    """A ``DebateStoreProtocol`` on a PostgreSQL database (no extension needed).

    ``url`` is a libpq connection string or URI; ``schema`` holds the tables (created on first
    use). Connections come from a pool of at most ``pool_size``, shared by the process's threads.
    Raises ``DatabaseUnavailable`` when the server cannot be reached within ``connect_timeout``.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str = "banron_store",
        pool_size: int = 4,
        connect_timeout: float = 10.0,
    ) -> None:
        self._db = SchemaPool(
            url, schema, MIGRATIONS, what="debate", pool_size=pool_size, connect_timeout=connect_timeout
        )
        self.schema = schema
        self._conn = self._db.conn
        self._write = self._db.write

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> PostgresDebateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never the URL: it may carry a password
        return f"PostgresDebateStore(schema={self.schema!r})"

    # -- writing -------------------------------------------------------------------------------
    def create_debate(
        self,
        *,
        motion_id: str,
        motion_text: str,
        student_side: Side,
        kbs: list[str],
        format: str = "free",
        lang: str = "",
        motion: Motion | None = None,
        exhibition: bool = False,
        owner: str | None = None,
    ) -> DebateRecord:
        now = timestamp()
        rec = DebateRecord(
            id=uuid.uuid4().hex[:12],
            motion_id=motion_id,
            motion_text=motion_text,
            student_side=student_side,
            format=format,
            kbs=kbs,
            created_at=iso(now),
            lang=lang,
            motion=motion,
            exhibition=exhibition,
            updated_at=iso(now),
            owner=owner,
        )
        with self._write() as db:
            db.execute(
                "INSERT INTO debates (id, motion_id, motion_text, student_side, format, kbs, lang, motion,"
                " exhibition, status, owner, created_at, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'active', %s, %s, %s)",
                (
                    rec.id,
                    no_nul(motion_id),
                    no_nul(motion_text),
                    student_side.value,
                    no_nul(format),
                    Jsonb(no_nul(kbs)),
                    no_nul(lang),
                    Jsonb(no_nul(asdict(motion))) if motion else None,
                    exhibition,
                    no_nul(owner),
                    now,
                    now,
                ),
            )
        return rec

    def set_status(self, debate_id: str, status: Status) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE debates SET status = %s, updated_at = %s WHERE id = %s",
                (status, timestamp(), debate_id),
            )

    def add_turn(self, debate_id: str, turn: Turn) -> None:
        """Store one completed turn (its citations and flow claims with it), in one transaction."""
        now = timestamp()
        try:
            with self._write() as db:
                db.execute(
                    "INSERT INTO turns (debate_id, n, speaker, side, lang, text, citations, claims,"
                    " phase, part, warnings, created_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        debate_id,
                        turn.n,
                        no_nul(turn.speaker),
                        turn.side.value,
                        no_nul(turn.lang),
                        no_nul(turn.text),
                        Jsonb(no_nul([asdict(c) for c in turn.citations])),
                        Jsonb(no_nul([c.to_dict() for c in turn.claims])),
                        no_nul(turn.phase),
                        no_nul(turn.part),
                        Jsonb(no_nul(list(turn.warnings))),
                        now,
                    ),
                )
                db.execute("UPDATE debates SET updated_at = %s WHERE id = %s", (now, debate_id))
        except errors.UniqueViolation as e:
            raise DuplicateTurn(f"debate {debate_id!r} already has turn {turn.n}") from e
        except errors.ForeignKeyViolation as e:
            raise UnknownDebate(f"no debate {debate_id!r}") from e

    # -- reading -------------------------------------------------------------------------------
    def get_debate(self, debate_id: str) -> DebateRecord | None:
        with self._conn() as db:
            row = db.execute("SELECT * FROM debates WHERE id = %s", (debate_id,)).fetchone()
        return _record(row) if row else None

    def list_debates(self, owner: str | None = None) -> list[tuple[DebateRecord, int]]:
        """Debates newest first, with their turn counts; only ``owner``'s when given."""
        where, args = ("WHERE d.owner = %s ", (owner,)) if owner is not None else ("", ())
        with self._conn() as db:
            rows = db.execute(
                "SELECT d.*, (SELECT count(*) FROM turns t WHERE t.debate_id = d.id) AS n_turns"
                f' FROM debates d {where}ORDER BY d.created_at DESC, d.id COLLATE "C"',
                args,
            ).fetchall()
        return [(_record(r), int(r["n_turns"])) for r in rows]

    def turns(self, debate_id: str) -> list[Turn]:
        with self._conn() as db:
            rows = db.execute("SELECT * FROM turns WHERE debate_id = %s ORDER BY n", (debate_id,)).fetchall()
        return [
            Turn(
                n=r["n"],
                speaker=r["speaker"],
                side=Side(r["side"]),
                lang=r["lang"],
                text=r["text"],
                citations=[Citation(**c) for c in r["citations"]],
                claims=[Claim.from_dict(c) for c in r["claims"]],
                phase=r["phase"],
                part=r["part"],
                warnings=list(r["warnings"]),
            )
            for r in rows
        ]


def _record(row: dict[str, Any]) -> DebateRecord:
    return DebateRecord(
        id=row["id"],
        motion_id=row["motion_id"],
        motion_text=row["motion_text"],
        student_side=Side(row["student_side"]),
        format=row["format"],
        kbs=list(row["kbs"]),
        created_at=iso(row["created_at"]),
        lang=row["lang"],
        motion=Motion(**row["motion"]) if row["motion"] else None,
        exhibition=bool(row["exhibition"]),
        status=row["status"],
        updated_at=iso(row["updated_at"]),
        owner=row["owner"],
    )
