"""Shared helpers in banron.util."""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from banron import util
from banron.util import ForkSafeThreadPool, atomic_sqlite


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_a_pool_of_its_own() -> None:
    pool = ForkSafeThreadPool("test-pool", lambda: 2)
    assert pool.get().submit(lambda: 41 + 1).result(timeout=10) == 42  # the parent's threads exist
    pid = os.fork()
    if pid == 0:  # the child: the inherited pool has no threads; a fresh one must answer
        try:
            ok = pool.get().submit(lambda: os.getpid()).result(timeout=10) == os.getpid()
        except BaseException:
            ok = False
        sys.stdout.flush()
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert pool.get().submit(lambda: "still").result(timeout=10) == "still"  # the parent's pool is kept


def _table(path: Path) -> None:
    with atomic_sqlite(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS t (writer INTEGER, n INTEGER)")


def test_writers_in_one_process_take_turns_and_every_write_lands(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite"
    _table(path)

    def write(w: int) -> None:
        for n in range(40):
            with atomic_sqlite(path) as db:
                db.execute("INSERT INTO t VALUES (?, ?)", (w, n))

    with ThreadPoolExecutor(8) as pool:
        for f in [pool.submit(write, w) for w in range(8)]:
            f.result(timeout=60)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*), count(DISTINCT writer) FROM t").fetchone() == (320, 8)


def test_a_writer_waits_in_process_and_gives_up_as_sqlite_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, other = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    _table(path)
    _table(other)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with atomic_sqlite(path) as db:
            db.execute("INSERT INTO t VALUES (1, 1)")
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(30)
        monkeypatch.setattr(util, "WRITE_WAIT_S", 0.2)
        with pytest.raises(sqlite3.OperationalError, match="locked"), atomic_sqlite(path) as db:
            db.execute("INSERT INTO t VALUES (2, 2)")
        with atomic_sqlite(other) as db:  # another database is not held up
            db.execute("INSERT INTO t VALUES (3, 3)")
    finally:
        release.set()
        holder.join(30)
    with atomic_sqlite(path) as db:  # released: the next writer gets in
        db.execute("INSERT INTO t VALUES (4, 4)")
        assert [r[0] for r in db.execute("SELECT writer FROM t ORDER BY writer")] == [1, 4]
