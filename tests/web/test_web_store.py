"""Debates carry their owner (migration m003_owner), on new and on existing databases."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from banron.domain import Side
from banron.store import sqlite as debate_sqlite
from banron.store.sqlite import DebateStore
from banron.util import migrate


def test_owner_is_stored_and_filters_the_list(tmp_path: Path) -> None:
    store = DebateStore(tmp_path / "d.sqlite")
    a = store.create_debate(motion_id="m", motion_text="논제", student_side=Side.PRO, kbs=["k"], owner="1")
    b = store.create_debate(motion_id="m", motion_text="논제", student_side=Side.CON, kbs=["k"], owner="2")
    cli = store.create_debate(motion_id="m", motion_text="논제", student_side=Side.CON, kbs=["k"])
    assert store.get_debate(a.id).owner == "1" and store.get_debate(cli.id).owner is None  # type: ignore[union-attr]
    assert [r.id for r, _ in store.list_debates(owner="1")] == [a.id]
    assert [r.id for r, _ in store.list_debates(owner="2")] == [b.id]
    assert {r.id for r, _ in store.list_debates()} == {a.id, b.id, cli.id}


def test_an_existing_database_gains_the_owner_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    migrate(path, debate_sqlite.MIGRATIONS[:2])  # a database from before the web app
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO debates (id, motion_id, motion_text, student_side, format, kbs, created_at)"
            " VALUES ('old', 'm', '논제', 'pro', 'free', '[]', '2026-01-01T00:00:00+00:00')"
        )
    store = DebateStore(path)
    assert store.get_debate("old").owner is None  # type: ignore[union-attr]
    assert store.list_debates(owner="1") == []
    with sqlite3.connect(path) as db:
        assert "m003_owner" in {r[0] for r in db.execute("SELECT name FROM _migrations")}
