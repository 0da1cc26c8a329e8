"""Debates survive: each turn commits on its own; migrations are named and applied once."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from banron.domain import Citation, Claim, Side, Turn
from banron.kb.index.sqlite import SQLiteIndex
from banron.store.sqlite import DebateStore


def test_turns_round_trip_and_are_visible_to_a_new_process(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite"
    store = DebateStore(path)
    rec = store.create_debate(motion_id="m", motion_text="논제", student_side=Side.PRO, kbs=["bundled"])
    t1 = Turn(1, "student", Side.PRO, "ko", "주장입니다.", claims=[Claim("t1c1", "주장입니다.")])
    t2 = Turn(
        2,
        "banron",
        Side.CON,
        "ko",
        "반론 [1].",
        citations=[Citation(1, "p1", "bundled", "인용", "제목", "출처")],
    )
    store.add_turn(rec.id, t1)
    store.add_turn(rec.id, t2)
    reopened = DebateStore(path)  # as after a restart
    assert reopened.turns(rec.id) == [t1, t2]
    again = reopened.get_debate(rec.id)
    assert again is not None and again.updated_at >= rec.created_at  # touched by each turn
    assert replace(again, updated_at=rec.updated_at) == rec
    assert [(r.id, n) for r, n in reopened.list_debates()] == [(rec.id, 2)]


def test_a_failed_turn_write_leaves_earlier_turns_intact(tmp_path: Path) -> None:
    store = DebateStore(tmp_path / "d.sqlite")
    rec = store.create_debate(motion_id="m", motion_text="x", student_side=Side.CON, kbs=[])
    store.add_turn(rec.id, Turn(1, "student", Side.CON, "en", "first"))
    with pytest.raises(sqlite3.IntegrityError):
        store.add_turn(rec.id, Turn(1, "banron", Side.PRO, "en", "same number twice"))
    assert [t.text for t in store.turns(rec.id)] == ["first"]


@pytest.mark.parametrize("opener", [DebateStore, SQLiteIndex])
def test_migrations_are_named_and_applied_once(tmp_path: Path, opener: type) -> None:
    path = tmp_path / "x.sqlite"
    opener(path)
    opener(path)
    with sqlite3.connect(path) as db:
        names = [r[0] for r in db.execute("SELECT name FROM _migrations")]
    assert names and len(names) == len(set(names))
