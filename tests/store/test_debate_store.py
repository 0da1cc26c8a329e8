"""The debate-store contract, run on SQLite and on PostgreSQL: debates survive, each turn commits on
its own, a turn number is written once, and migrations are named and applied once."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest

from banron.domain import Citation, Claim, Motion, Side, Turn
from banron.store import DuplicateTurn, UnknownDebate, open_store
from banron.store.base import DebateStoreProtocol
from banron.store.sqlite import DebateStore


def _turns() -> list[Turn]:
    return [
        Turn(1, "student", Side.PRO, "ko", "주장입니다.", claims=[Claim("t1c1", "주장")], phase="con1"),
        Turn(
            2,
            "banron",
            Side.CON,
            "ko",
            "반론 [1].",
            citations=[Citation(1, "p1", "bundled", '인용 "따옴표"', "제목", "출처")],
            claims=[Claim("t2c1", "반론", answers=("t1c1",))],
            phase="cx",
            part="question",
            warnings=["over_time"],
        ),
    ]


def test_the_stores_satisfy_the_protocol(store: DebateStoreProtocol) -> None:
    assert isinstance(store, DebateStoreProtocol)


def test_turns_round_trip_and_are_visible_after_a_restart(backend: Any) -> None:
    store = backend.store
    motion = Motion("m-1", "숙제를 없애야 한다", "ko", text_en="Abolish homework", summary="요약")
    rec = store.create_debate(
        motion_id="m-1",
        motion_text="숙제를 없애야 한다",
        student_side=Side.PRO,
        kbs=["bundled", "class-3"],
        format="ceda",
        lang="ko",
        motion=motion,
        owner="7",
    )
    bare = store.create_debate(motion_id="m", motion_text="x", student_side=Side.CON, kbs=[], exhibition=True)
    for t in _turns():
        store.add_turn(rec.id, t)
    reopened = backend.reopen()  # as after a restart
    assert reopened.turns(rec.id) == _turns()
    assert reopened.turns(bare.id) == [] and reopened.turns("nope") == []
    again = reopened.get_debate(rec.id)
    assert again is not None and again.updated_at >= rec.created_at  # touched by each turn
    assert replace(again, updated_at=rec.updated_at) == rec
    assert reopened.get_debate(bare.id) == bare and bare.motion is None and bare.exhibition
    assert reopened.get_debate("nope") is None
    assert {(r.id, n) for r, n in reopened.list_debates()} == {(rec.id, 2), (bare.id, 0)}


def test_the_list_is_newest_first_and_filtered_by_owner(store: DebateStoreProtocol) -> None:
    made = [
        store.create_debate(motion_id="m", motion_text="논제", student_side=Side.PRO, kbs=["k"], owner=owner)
        for owner in ["1", "2", None, "1"]
    ]
    expected = sorted(sorted(made, key=lambda r: r.id), key=lambda r: r.created_at, reverse=True)
    assert [r for r, _ in store.list_debates()] == expected
    assert [r.id for r, _ in store.list_debates(owner="1")] == [r.id for r in expected if r.owner == "1"]
    assert [r.id for r, _ in store.list_debates(owner="2")] == [made[1].id]
    assert store.list_debates(owner="3") == []


def test_status_is_set_and_kept(backend: Any) -> None:
    rec = backend.store.create_debate(motion_id="m", motion_text="x", student_side=Side.CON, kbs=[])
    assert rec.status == "active"
    backend.store.set_status(rec.id, "finished")
    backend.store.set_status("nope", "finished")  # an unknown id is a no-op
    got = backend.reopen().get_debate(rec.id)
    assert got is not None and got.status == "finished" and got.updated_at >= rec.updated_at
    assert [r.status for r, _ in backend.store.list_debates()] == ["finished"]


def test_a_turn_number_is_written_once(store: DebateStoreProtocol) -> None:
    rec = store.create_debate(motion_id="m", motion_text="x", student_side=Side.CON, kbs=[])
    store.add_turn(rec.id, Turn(1, "student", Side.CON, "en", "first"))
    with pytest.raises(DuplicateTurn):
        store.add_turn(rec.id, Turn(1, "banron", Side.PRO, "en", "same number twice"))
    with pytest.raises(UnknownDebate):
        store.add_turn("nope", Turn(1, "student", Side.CON, "en", "no such debate"))
    assert [t.text for t in store.turns(rec.id)] == ["first"]
    assert store.list_debates() == [(store.get_debate(rec.id), 1)]


def test_a_failed_turn_write_leaves_earlier_turns_intact(backend: Any) -> None:
    store = backend.store
    rec = store.create_debate(motion_id="m", motion_text="x", student_side=Side.CON, kbs=[])
    store.add_turn(rec.id, Turn(1, "student", Side.CON, "en", "first"))
    backend.break_debate_updates()  # the turn's INSERT succeeds, then the UPDATE in its transaction fails
    with pytest.raises(Exception, match="injected") as failed:
        store.add_turn(rec.id, Turn(2, "banron", Side.PRO, "en", "half-written"))
    assert not isinstance(failed.value, DuplicateTurn)
    assert [t.text for t in backend.reopen().turns(rec.id)] == ["first"]  # nothing of turn 2
    backend.mend_debate_updates()
    backend.store.add_turn(rec.id, Turn(2, "banron", Side.PRO, "en", "retried"))  # the retry is clean
    assert [t.text for t in backend.store.turns(rec.id)] == ["first", "retried"]


def test_concurrent_writers_to_different_debates(store: DebateStoreProtocol) -> None:
    debates = [
        store.create_debate(motion_id="m", motion_text=f"d{i}", student_side=Side.PRO, kbs=[])
        for i in range(4)
    ]
    errors: list[BaseException] = []

    def write(debate_id: str) -> None:
        try:
            for n in range(1, 9):
                store.add_turn(debate_id, Turn(n, "student", Side.PRO, "en", f"{debate_id} {n}"))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(d.id,)) for d in debates]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for d in debates:
        assert [t.text for t in store.turns(d.id)] == [f"{d.id} {n}" for n in range(1, 9)]
    assert sorted(n for _, n in store.list_debates()) == [8, 8, 8, 8]


def test_migrations_are_named_and_applied_once(backend: Any) -> None:
    before = backend.migrations()
    backend.reopen()
    backend.reopen()
    assert before and len(before) == len(set(before)) and backend.migrations() == before


def test_the_database_url_setting_selects_the_store(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from banron.config import load_settings
    from banron.store.postgres import PostgresDebateStore

    monkeypatch.setenv("BANRON_STORE__DATABASE_URL", pg_url)
    settings = load_settings()
    assert pg_url not in str(settings.masked()) and pg_url not in repr(settings)
    store = open_store(settings)
    try:
        assert isinstance(store, PostgresDebateStore) and pg_url not in repr(store)
        rec = store.create_debate(motion_id="m", motion_text="x", student_side=Side.PRO, kbs=[])
        assert store.get_debate(rec.id) == rec
    finally:
        store.close()
    monkeypatch.setenv("BANRON_STORE__DATABASE_URL", "")
    assert isinstance(open_store(load_settings()), DebateStore)


def test_postgres_stores_text_with_nul_characters(pg_url: str) -> None:
    from banron.store.postgres import PostgresDebateStore

    with PostgresDebateStore(pg_url, schema="store_nul") as store:
        rec = store.create_debate(motion_id="m", motion_text="a\x00b", student_side=Side.PRO, kbs=["k\x00"])
        store.add_turn(rec.id, Turn(1, "student", Side.PRO, "en", "x\x00y", warnings=["w\x00"]))
        assert store.turns(rec.id)[0].text == "x\ufffdy"
        assert store.get_debate(rec.id).motion_text == "a\ufffdb"  # type: ignore[union-attr]


def test_an_unreachable_database_is_a_clear_error() -> None:
    from banron.store.postgres import DatabaseUnavailable, PostgresDebateStore

    with pytest.raises(DatabaseUnavailable, match="cannot open the debate database"):
        PostgresDebateStore("postgresql://nobody@127.0.0.1:1/none", connect_timeout=2)


def test_a_lost_postgres_connection_is_a_clear_error_and_the_next_call_reconnects(pg_url: str) -> None:
    import psycopg

    from banron.store.postgres import DatabaseUnavailable, PostgresDebateStore

    with PostgresDebateStore(pg_url, schema="store_lost", pool_size=1) as store:
        rec = store.create_debate(motion_id="m", motion_text="x", student_side=Side.PRO, kbs=[])
        with store._conn() as db:
            row = db.execute("SELECT pg_backend_pid() AS pid").fetchone()
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (row["pid"],))  # type: ignore[index]
        with pytest.raises(DatabaseUnavailable, match="unreachable"):
            store.add_turn(rec.id, Turn(1, "student", Side.PRO, "en", "lost"))
        store.add_turn(rec.id, Turn(1, "student", Side.PRO, "en", "retried"))  # a fresh connection
        assert [t.text for t in store.turns(rec.id)] == ["retried"]


def test_an_open_sqlite_store_keeps_its_write_ahead_log_between_calls(tmp_path: Any) -> None:
    # Without a connection held open, each call's connection is the last one to close, and
    # SQLite then checkpoints the log into the database and deletes it: a cost on every commit.
    path = tmp_path / "debates.sqlite"
    store = DebateStore(path)
    rec = store.create_debate(motion_id="m", motion_text="t", student_side=Side.PRO, kbs=[])
    store.add_turn(rec.id, Turn(n=1, speaker="student", side=Side.PRO, lang="ko", text="첫 발언"))
    wal = tmp_path / "debates.sqlite-wal"
    assert wal.exists() and wal.stat().st_size > 0
    store.close()
    assert not wal.exists()  # the last connection closed: checkpointed, nothing left behind
    again = DebateStore(path)
    assert [t.text for t in again.turns(rec.id)] == ["첫 발언"]
    again.close()
