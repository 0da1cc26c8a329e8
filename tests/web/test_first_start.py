"""Several workers starting together on a fresh home agree on one signing key and one admin."""

from __future__ import annotations

import gc
import secrets
import threading
from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from banron.cli.web import first_admin, settle
from banron.kb.index.sqlite import SQLiteIndex
from banron.store.accounts import AccountError, AccountStore
from banron.web.state import load_secret


def test_the_key_another_worker_wrote_first_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "web-secret"
    theirs = b"t" * 32
    real = secrets.token_bytes

    def race(n: int) -> bytes:
        # Between our "no key yet" and our write, another worker writes its key.
        path.write_bytes(theirs)
        return real(n)

    monkeypatch.setattr(secrets, "token_bytes", race)
    assert load_secret(path) == theirs
    assert path.read_bytes() == theirs
    assert [p.name for p in tmp_path.iterdir()] == ["web-secret"]  # no temporary file left


def test_workers_starting_together_share_one_key(tmp_path: Path) -> None:
    path = tmp_path / "web-secret"
    barrier = threading.Barrier(8)
    keys: list[bytes] = []

    def start() -> None:
        barrier.wait()
        keys.append(load_secret(path))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1 and path.read_bytes() == keys[0]
    assert (path.stat().st_mode & 0o777) == 0o600


def test_a_short_key_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "web-secret"
    path.write_bytes(b"short")
    key = load_secret(path)
    assert len(key) == 32 and path.read_bytes() == key


def test_first_admin_is_made_once_even_when_another_worker_wins(tmp_path: Path) -> None:
    accounts = AccountStore(tmp_path / "accounts.sqlite")
    password = first_admin(accounts)
    assert password and [u.name for u in accounts.list_users()] == ["admin"]
    assert first_admin(accounts) is None  # users exist: nothing made, nothing shown

    class Racing:
        """Saw no users, but another worker adds the admin before this one does."""

        def list_users(self) -> list[object]:
            return []

        def add_user(self, **kw: object) -> None:
            raise AccountError("a user named 'admin' already exists")

    assert first_admin(Racing()) is None


def test_settling_loads_what_the_first_speech_needs_then_freezes_it(web: tuple[Any, Any]) -> None:
    state = web[0].state.banron
    gc.unfreeze()
    try:
        settle(state)
        assert gc.get_freeze_count() > 0
        index = state.rt.index
        assert isinstance(index, SQLiteIndex) and "bundled" in index._loaded  # the evidence is in memory
    finally:
        gc.unfreeze()  # the rest of the suite collects as usual


def test_a_failed_warm_up_freezes_nothing_and_leaves_the_error_to_a_request() -> None:
    ready = Future[None]()
    ready.set_exception(OSError("disk gone"))
    gc.unfreeze()
    settle(SimpleNamespace(engine=SimpleNamespace(ready=ready)))  # nothing escapes the thread's function
    assert gc.get_freeze_count() == 0
