"""Debates and their turns in SQLite: each completed turn is committed on its own, so a crash or a
killed terminal loses at most the speech that was still being written."""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from banron.domain import Citation, Claim, Side, Turn
from banron.util import Migration, atomic_sqlite, migrate, utc_now


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


# Named, append-only: never edit or reorder an entry; add a new one.
MIGRATIONS: list[Migration] = [
    ("m001_debates", _m001_debates),
]


@dataclass(frozen=True)
class DebateRecord:
    id: str
    motion_id: str
    motion_text: str
    student_side: Side
    format: str
    kbs: list[str]
    created_at: str


class DebateStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        migrate(path, MIGRATIONS)

    def create_debate(
        self, *, motion_id: str, motion_text: str, student_side: Side, kbs: list[str], format: str = "free"
    ) -> DebateRecord:
        rec = DebateRecord(
            id=uuid.uuid4().hex[:12],
            motion_id=motion_id,
            motion_text=motion_text,
            student_side=student_side,
            format=format,
            kbs=kbs,
            created_at=utc_now(),
        )
        with atomic_sqlite(self.path) as db:
            db.execute(
                "INSERT INTO debates VALUES (?, ?, ?, ?, ?, ?, ?)",
                (rec.id, motion_id, motion_text, student_side.value, format, json.dumps(kbs), rec.created_at),
            )
        return rec

    def add_turn(self, debate_id: str, turn: Turn) -> None:
        with atomic_sqlite(self.path) as db:
            db.execute(
                "INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    debate_id,
                    turn.n,
                    turn.speaker,
                    turn.side.value,
                    turn.lang,
                    turn.text,
                    json.dumps([_citation_dict(c) for c in turn.citations], ensure_ascii=False),
                    json.dumps([{"id": c.id, "text": c.text} for c in turn.claims], ensure_ascii=False),
                    utc_now(),
                ),
            )

    def get_debate(self, debate_id: str) -> DebateRecord | None:
        with sqlite3.connect(self.path) as db:
            row = db.execute("SELECT * FROM debates WHERE id = ?", (debate_id,)).fetchone()
        return _record(row) if row else None

    def list_debates(self) -> list[tuple[DebateRecord, int]]:
        with sqlite3.connect(self.path) as db:
            rows = db.execute(
                "SELECT d.*, (SELECT count(*) FROM turns t WHERE t.debate_id = d.id) FROM debates d"
                " ORDER BY d.created_at DESC, d.id"
            ).fetchall()
        return [(_record(r[:7]), int(r[7])) for r in rows]

    def turns(self, debate_id: str) -> list[Turn]:
        with sqlite3.connect(self.path) as db:
            rows = db.execute(
                "SELECT n, speaker, side, lang, text, citations, claims FROM turns"
                " WHERE debate_id = ? ORDER BY n",
                (debate_id,),
            ).fetchall()
        return [
            Turn(
                n=n,
                speaker=speaker,
                side=Side(side),
                lang=lang,
                text=text,
                citations=[Citation(**c) for c in json.loads(cits)],
                claims=[Claim(**c) for c in json.loads(claims)],
            )
            for n, speaker, side, lang, text, cits, claims in rows
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


def _record(row: tuple[Any, ...]) -> DebateRecord:
    return DebateRecord(
        id=row[0],
        motion_id=row[1],
        motion_text=row[2],
        student_side=Side(row[3]),
        format=row[4],
        kbs=json.loads(row[5]),
        created_at=row[6],
    )
