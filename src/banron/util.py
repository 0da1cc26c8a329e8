"""Small helpers shared across layers."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

Migration = tuple[str, Callable[[sqlite3.Connection], None]]


WRITE_WAIT_S = 30.0  # how long a writer waits for the database, in-process lock or SQLite's own

_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


def _reset_write_locks() -> None:
    # A forked child has none of the parent's threads: a lock one of them held would never be freed.
    global _write_locks_guard
    _write_locks.clear()
    _write_locks_guard = threading.Lock()


os.register_at_fork(after_in_child=_reset_write_locks)


def _write_lock(path: Path) -> threading.Lock:
    key = os.path.abspath(path)
    with _write_locks_guard:
        lock = _write_locks.get(key)
        if lock is None:
            lock = _write_locks[key] = threading.Lock()
        return lock


@contextmanager
def atomic_sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection whose statements commit together or not at all, then close.

    WAL lets readers (a search) proceed while a writer (an ingest) works. Writers of one database
    in this process queue on a lock of their own before ``BEGIN IMMEDIATE``: SQLite admits one
    writer at a time anyway, but a writer refused by SQLite polls, sleeping 1, 2, 5, 10, 15, 20,
    25... ms between tries, so under eight engine threads a stored turn waited tens of ms for a
    lock freed after one. A lock wakes the next writer at once. Other processes still meet
    SQLite's own waiting.
    """
    lock = _write_lock(path)
    db = sqlite3.connect(path, timeout=WRITE_WAIT_S, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA foreign_keys=ON")
        if not lock.acquire(timeout=WRITE_WAIT_S):
            raise sqlite3.OperationalError("database is locked")  # what SQLite says after its wait
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            lock.release()
    finally:
        db.close()


def wal_anchor(path: Path) -> sqlite3.Connection:
    """An idle connection to hold open for a store's life, so its write-ahead log outlives each call.

    The stores open a short connection per call. When the last connection to a WAL database
    closes, SQLite checkpoints the log into the database and deletes it, so without an anchor
    every commit paid for a checkpoint too (a stored debate turn: 8-10 ms p50 instead of 2-3 on
    a busy disk, ``benchmarks/store_latency.py``). The anchor never starts a transaction, so it
    blocks neither readers nor writers nor the automatic checkpoints.
    """
    db = sqlite3.connect(path, timeout=30, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    return db


def _temp_beside(path: Path, data: bytes) -> str:
    """``data`` in a new, fsynced, owner-only (0600) temporary file in ``path``'s folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so a crash leaves either the old content or the new, never half of it."""
    tmp = _temp_beside(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def create_file_once(path: Path, data: bytes) -> bool:
    """Create ``path`` (owner-only) holding all of ``data``, unless it exists: then False, untouched.

    The file is written beside it and linked into place, so a process racing to create the same
    file either wins whole or finds the winner's whole file, never half of one.
    """
    tmp = _temp_beside(path, data)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        Path(tmp).unlink(missing_ok=True)


class ForkSafeThreadPool:
    """A thread pool made on first use, and made afresh in a forked child.

    A forked child (a test server, a worker) inherits the pool object but none of its threads:
    work handed to it would wait forever. So the child drops the pool, and the lock, which
    another thread may have held at the fork, and starts its own pool when it first needs one.
    """

    def __init__(self, name: str, workers: Callable[[], int]) -> None:
        self._name = name
        self._workers = workers
        self._forget()
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self.lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def get(self) -> ThreadPoolExecutor:
        with self.lock:
            if self._pool is None:
                workers = max(1, self._workers())
                self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=self._name)
            return self._pool


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def migrate(path: Path, migrations: Sequence[Migration]) -> None:
    """Apply, in one transaction, the named migrations this database has not seen yet.

    Migrations are append-only: an entry is never edited or reordered, a change is a new entry.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_sqlite(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        done = {r[0] for r in db.execute("SELECT name FROM _migrations")}
        for name, fn in migrations:
            if name not in done:
                fn(db)
                db.execute("INSERT INTO _migrations VALUES (?, ?)", (name, utc_now()))


def storage_errors() -> tuple[type[Exception], ...]:
    """The exceptions that mean banron's storage cannot be used right now (not a bug).

    ``OSError`` and ``sqlite3.Error`` always; ``banron.pg.DatabaseUnavailable`` once a PostgreSQL
    backend has been loaded. It is looked up, never imported: psycopg is an optional extra, and
    that error cannot be raised before a PostgreSQL backend imports ``banron.pg``.
    """
    pg = sys.modules.get("banron.pg")
    extra: tuple[type[Exception], ...] = (pg.DatabaseUnavailable,) if pg is not None else ()
    return (OSError, sqlite3.Error, *extra)


def storage_problem(exc: BaseException, home: Path) -> str:
    """What went wrong with a write under ``home``, in words a user can act on.

    SQLite often reports a full disk as a "disk I/O error", so the free space is looked at too.
    """
    pg = sys.modules.get("banron.pg")
    if pg is not None and isinstance(exc, pg.DatabaseUnavailable):
        return f"the database server cannot be reached ({' '.join(str(exc).split())})"
    text = str(exc).lower()
    code = getattr(exc, "errno", None) or getattr(exc, "sqlite_errorcode", 0)
    try:
        nearly_full = shutil.disk_usage(home).free < 1 << 20
    except OSError:
        nearly_full = False
    if code in (errno.ENOSPC, sqlite3.SQLITE_FULL) or "full" in text or nearly_full:
        return "the disk is full"
    if code in (errno.EROFS, errno.EACCES, sqlite3.SQLITE_READONLY) or "readonly" in text:
        return "the data directory is read-only"
    return f"storage error ({type(exc).__name__}: {exc})"
