"""Debates and their turns in SQLite: each completed turn is committed on its own, so a crash or a
killed terminal loses at most the speech that was still being written."""

from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import closing
from dataclasses import asdict
from pathlib import Path
from typing import Any

from banron.domain import Citation, Claim, Motion, Side, Turn
from banron.store.base import DebateRecord, DuplicateTurn, Status, UnknownDebate
from banron.util import Migration, atomic_sqlite, migrate, utc_now, wal_anchor


def _m001_debates(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE debates (
            id TEXT PRIMARY KEY,
            motion_id TEXT NOT NULL,
            motion_text TEXT NOT NULL,
            student_side TEXT NOT NULL,
            format TEXT NOT NULL DEFAULT 'free',
            kbs TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE turns (
            debate_id TEXT NOT NULL REFERENCES debates(id) ON DELETE CASCADE,
            n INTEGER NOT NULL,
            speaker TEXT NOT NULL,
            side TEXT NOT NULL,
            lang TEXT NOT NULL,
            text TEXT NOT NULL,
            citations TEXT NOT NULL DEFAULT '[]',
            claims TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL,
            PRIMARY KEY (debate_id, n)
        )"""
    )


def _m002_formats(db: sqlite3.Connection) -> None:
    # Formats, languages, resumable state and exhibition debates; claims now carry `answers`.
    db.execute("ALTER TABLE debates ADD COLUMN lang TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE debates ADD COLUMN motion_json TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE debates ADD COLUMN exhibition INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE debates ADD COLUMN status TEXT NOT NULL DEFAULT 'active'")
    db.execute("ALTER TABLE debates ADD COLUMN updated_at TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE turns ADD COLUMN phase TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE turns ADD COLUMN part TEXT NOT NULL DEFAULT 'speech'")
    db.execute("ALTER TABLE turns ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]'")


def _m003_owner(db: sqlite3.Connection) -> None:
    # The web app's accounts: who a debate belongs to (NULL for debates made from the terminal).
    db.execute("ALTER TABLE debates ADD COLUMN owner TEXT")
    db.execute("CREATE INDEX debates_owner ON debates(owner, created_at)")


# Named, append-only: never edit or reorder an entry; add a new one.
MIGRATIONS: list[Migration] = [
    ("m001_debates", _m001_debates),
    ("m002_formats", _m002_formats),
    ("m003_owner", _m003_owner),
]

__all__ = ["MIGRATIONS", "DebateRecord", "DebateStore", "Status"]


class DebateStore:
    """The embedded ``DebateStoreProtocol``: one SQLite file (``$BANRON_HOME/debates.sqlite``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        migrate(path, MIGRATIONS)
        self._anchor = wal_anchor(path)

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
        now = utc_now()
        rec = DebateRecord(
            id=uuid.uuid4().hex[:12],
            motion_id=motion_id,
            motion_text=motion_text,
            student_side=student_side,
            format=format,
            kbs=kbs,
            created_at=now,
            lang=lang,
            motion=motion,
            exhibition=exhibition,
            updated_at=now,
            owner=owner,
        )
        with atomic_sqlite(self.path) as db:
            db.execute(
                "INSERT INTO debates (id, motion_id, motion_text, student_side, format, kbs, created_at,"
                " lang, motion_json, exhibition, status, updated_at, owner)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)",
                (
                    rec.id,
                    motion_id,
                    motion_text,
                    student_side.value,
                    format,
                    json.dumps(kbs),
                    now,
                    lang,
                    json.dumps(asdict(motion), ensure_ascii=False) if motion else "",
                    int(exhibition),
                    now,
                    owner,
                ),
            )
        return rec

    def set_status(self, debate_id: str, status: Status) -> None:
        with atomic_sqlite(self.path) as db:
            db.execute(
                "UPDATE debates SET status = ?, updated_at = ? WHERE id = ?", (status, utc_now(), debate_id)
            )

    def add_turn(self, debate_id: str, turn: Turn) -> None:
        """Store one completed turn (its citations and flow claims with it), in one transaction."""
        now = utc_now()
        try:
            self._insert_turn(debate_id, turn, now)
        except sqlite3.IntegrityError as e:
            if str(e).startswith("UNIQUE constraint failed"):
                raise DuplicateTurn(f"debate {debate_id!r} already has turn {turn.n}") from e
            if str(e).startswith("FOREIGN KEY constraint failed"):
                raise UnknownDebate(f"no debate {debate_id!r}") from e
            raise

    def _insert_turn(self, debate_id: str, turn: Turn, now: str) -> None:
        with atomic_sqlite(self.path) as db:
            db.execute(
                "INSERT INTO turns (debate_id, n, speaker, side, lang, text, citations, claims, created_at,"
                " phase, part, warnings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    debate_id,
                    turn.n,
                    turn.speaker,
                    turn.side.value,
                    turn.lang,
                    turn.text,
                    json.dumps([_citation_dict(c) for c in turn.citations], ensure_ascii=False),
                    json.dumps([c.to_dict() for c in turn.claims], ensure_ascii=False),
                    now,
                    turn.phase,
                    turn.part,
                    json.dumps(turn.warnings, ensure_ascii=False),
                ),
            )
            db.execute("UPDATE debates SET updated_at = ? WHERE id = ?", (now, debate_id))

    def close(self) -> None:
        """Every call opens and closes its own connection; only the WAL anchor is left to close."""
        self._anchor.close()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path)
        db.row_factory = sqlite3.Row
        return db

    def get_debate(self, debate_id: str) -> DebateRecord | None:
        with closing(self._connect()) as db:
            row = db.execute("SELECT * FROM debates WHERE id = ?", (debate_id,)).fetchone()
        return _record(row) if row else None

    def list_debates(self, owner: str | None = None) -> list[tuple[DebateRecord, int]]:
        """Debates newest first, with their turn counts; only ``owner``'s when given."""
        where, args = ("WHERE d.owner = ? ", (owner,)) if owner is not None else ("", ())
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT d.*, (SELECT count(*) FROM turns t WHERE t.debate_id = d.id) AS n_turns"
                f" FROM debates d {where}ORDER BY d.created_at DESC, d.id",
                args,
            ).fetchall()
        return [(_record(r), int(r["n_turns"])) for r in rows]

    def turns(self, debate_id: str) -> list[Turn]:
        with closing(self._connect()) as db:
            rows = db.execute("SELECT * FROM turns WHERE debate_id = ? ORDER BY n", (debate_id,)).fetchall()
        return [
            Turn(
                n=r["n"],
                speaker=r["speaker"],
                side=Side(r["side"]),
                lang=r["lang"],
                text=r["text"],
                citations=[Citation(**c) for c in json.loads(r["citations"])],
                claims=[Claim.from_dict(c) for c in json.loads(r["claims"])],
                phase=r["phase"],
                part=r["part"],
                warnings=json.loads(r["warnings"]),
            )
            for r in rows
        ]


def _citation_dict(c: Citation) -> dict[str, Any]:
    return {
        "n": c.n,
        "passage_id": c.passage_id,
        "kb": c.kb,
        "quote": c.quote,
        "title": c.title,
        "source": c.source,
    }


def _record(row: sqlite3.Row) -> DebateRecord:
    motion = Motion(**json.loads(row["motion_json"])) if row["motion_json"] else None
    return DebateRecord(
        id=row["id"],
        motion_id=row["motion_id"],
        motion_text=row["motion_text"],
        student_side=Side(row["student_side"]),
        format=row["format"],
        kbs=json.loads(row["kbs"]),
        created_at=row["created_at"],
        lang=row["lang"],
        motion=motion,
        exhibition=bool(row["exhibition"]),
        status=row["status"],
        updated_at=row["updated_at"] or row["created_at"],
        owner=row["owner"],
    )
