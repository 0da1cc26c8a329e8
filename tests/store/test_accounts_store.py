"""The accounts-store contract, run on SQLite and on PostgreSQL: users, sessions and their expiry,
API tokens, classes and membership, who teaches whom, and teachers' motions behave the same, with the
same errors, on both backends; ``open_accounts`` picks PostgreSQL when a store URL is set."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from banron.store.accounts import AccountError, AccountStore

_schemas = itertools.count(1)


@dataclass
class AccountsBackend:
    name: str
    open: Callable[[], Any]
    store: Any = None

    def reopen(self) -> Any:
        old, self.store = self.store, self.open()
        old.close()
        return self.store


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AccountsBackend]:
    if request.param == "postgres":
        from banron.store.postgres_accounts import PostgresAccountStore

        url = request.getfixturevalue("pg_url")
        schema = f"accounts{next(_schemas)}"
        b = AccountsBackend("postgres", lambda: PostgresAccountStore(url, schema=schema, pool_size=2))
    else:
        b = AccountsBackend("sqlite", lambda: AccountStore(tmp_path / "accounts.sqlite"))
    b.store = b.open()
    yield b
    b.store.close()


@pytest.fixture
def store(backend: AccountsBackend) -> Any:
    return backend.store


def _iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat(timespec="seconds")


def test_users_round_trip_and_survive_a_reopen(backend: AccountsBackend) -> None:
    store = backend.store
    ann = store.add_user(name="ann", role="teacher", password_hash="h1", locale="ko")
    bo = store.add_user(name="보라", role="student", password_hash="h2")
    zed = store.add_user(name="Zed.k@school", role="admin", password_hash="h3")
    assert ann.is_teacher and zed.is_teacher and not bo.is_teacher
    assert len({ann.id, bo.id, zed.id}) == 3
    store = backend.reopen()
    assert store.get_user(ann.id) == ann and store.get_user_by_name("보라") == bo
    assert store.get_user(10**6) is None and store.get_user_by_name("nobody") is None
    # Byte order, as SQLite sorts: upper case before lower, Hangul after Latin.
    assert [u.name for u in store.list_users()] == ["Zed.k@school", "ann", "보라"]
    assert store.list_users("student") == [bo]
    assert store.password_hash(ann.id) == "h1" and store.password_hash(10**6) is None
    store.set_locale(user_id=bo.id, locale="en")
    assert store.get_user(bo.id).locale == "en"


def test_bad_or_taken_user_names_and_roles_are_refused(store: Any) -> None:
    store.add_user(name="ann", role="student", password_hash="h")
    with pytest.raises(AccountError, match="already exists"):
        store.add_user(name="ann", role="teacher", password_hash="h")
    for bad in ["", "a b", "x" * 65, "<script>"]:
        with pytest.raises(AccountError, match="invalid user name"):
            store.add_user(name=bad, role="student", password_hash="h")
    with pytest.raises(AccountError, match="role"):
        store.add_user(name="bo", role="king", password_hash="h")
    assert [u.name for u in store.list_users()] == ["ann"]


def test_sessions_expire_and_a_new_password_signs_out_everywhere(store: Any) -> None:
    ann = store.add_user(name="ann", role="student", password_hash="old")
    bo = store.add_user(name="bo", role="student", password_hash="h")
    store.create_session(user_id=ann.id, token_hash="live", expires_at=_iso(timedelta(hours=1)))
    store.create_session(user_id=ann.id, token_hash="other", expires_at=_iso(timedelta(hours=1)))
    store.create_session(user_id=bo.id, token_hash="stale", expires_at=_iso(timedelta(seconds=-5)))
    store.create_session(user_id=bo.id, token_hash="bo", expires_at=_iso(timedelta(hours=1)))
    assert store.session_user("live") == ann and store.session_user("bo") == bo
    assert store.session_user("stale") is None  # expired
    assert store.session_user("unknown") is None
    store.delete_session("other")
    assert store.session_user("other") is None and store.session_user("live") == ann
    store.set_password(user_id=ann.id, password_hash="new")
    assert store.password_hash(ann.id) == "new"
    assert store.session_user("live") is None  # signed out everywhere
    assert store.session_user("bo") == bo  # other users keep theirs


def test_api_tokens_are_set_replaced_and_revoked(store: Any) -> None:
    ann = store.add_user(name="ann", role="teacher", password_hash="h")
    assert store.user_by_api_token("t1") is None
    store.set_api_token(user_id=ann.id, token_hash="t1")
    assert store.user_by_api_token("t1") == ann
    store.set_api_token(user_id=ann.id, token_hash="t2")
    assert store.user_by_api_token("t1") is None and store.user_by_api_token("t2") == ann
    store.set_api_token(user_id=ann.id, token_hash=None)
    assert store.user_by_api_token("t2") is None


def test_classes_membership_and_who_teaches_whom(backend: AccountsBackend) -> None:
    store = backend.store
    kim = store.add_user(name="kim", role="teacher", password_hash="h")
    lee = store.add_user(name="lee", role="teacher", password_hash="h")
    ann = store.add_user(name="ann", role="student", password_hash="h")
    bo = store.add_user(name="bo", role="student", password_hash="h")
    b3 = store.create_class(name="  3학년 2반 ", teacher_id=kim.id)
    a1 = store.create_class(name="A-debate", teacher_id=None)
    assert b3.name == "3학년 2반" and b3.teacher_id == kim.id and a1.teacher_id is None
    with pytest.raises(AccountError, match="already exists"):
        store.create_class(name="3학년 2반", teacher_id=lee.id)
    for bad in ["", "   ", "x" * 81]:
        with pytest.raises(AccountError, match="1 to 80"):
            store.create_class(name=bad, teacher_id=None)

    store.add_member(class_id=b3.id, user_id=ann.id)
    store.add_member(class_id=b3.id, user_id=ann.id)  # twice: no error, one membership
    store.add_member(class_id=b3.id, user_id=bo.id)
    store.add_member(class_id=a1.id, user_id=ann.id)
    with pytest.raises(AccountError, match="no such class or user"):
        store.add_member(class_id=10**6, user_id=ann.id)
    with pytest.raises(AccountError, match="no such class or user"):
        store.add_member(class_id=b3.id, user_id=10**6)

    store = backend.reopen()
    assert store.get_class(b3.id) == b3 and store.get_class_by_name("A-debate") == a1
    assert store.get_class(10**6) is None and store.get_class_by_name("nope") is None
    assert store.list_classes() == [b3, a1] and store.list_classes(kim.id) == [b3]
    assert store.list_classes(lee.id) == []
    assert store.members(b3.id) == [ann, bo] and store.members(10**6) == []
    assert store.classes_of(ann.id) == [b3, a1] and store.classes_of(kim.id) == []

    assert store.teaches(teacher_id=kim.id, student_id=ann.id)
    assert not store.teaches(teacher_id=lee.id, student_id=ann.id)
    assert not store.teaches(teacher_id=kim.id, student_id=kim.id)
    store.set_class_teacher(class_id=b3.id, teacher_id=lee.id)
    assert store.teaches(teacher_id=lee.id, student_id=bo.id)
    assert not store.teaches(teacher_id=kim.id, student_id=bo.id)
    store.remove_member(class_id=b3.id, user_id=bo.id)
    assert not store.teaches(teacher_id=lee.id, student_id=bo.id)
    assert store.members(b3.id) == [ann]
    store.set_class_teacher(class_id=b3.id, teacher_id=None)
    assert store.get_class(b3.id).teacher_id is None and store.list_classes(lee.id) == []


def test_motions_are_created_updated_and_listed_newest_first(backend: AccountsBackend) -> None:
    store = backend.store
    kim = store.add_user(name="kim", role="teacher", password_hash="h")
    first = store.create_motion(
        text=" 숙제를 없애야 한다 ", lang="ko", text_en=" Abolish homework ", summary=" 요약 ",
        kb="class-3", created_by=kim.id, motion_id="m-home",
    )  # fmt: skip
    assert (first.text, first.text_en, first.summary) == ("숙제를 없애야 한다", "Abolish homework", "요약")
    assert first.kb == "class-3" and first.created_by == kim.id
    assert first.created_at == first.updated_at and first.to_motion().id == "m-home"
    second = store.create_motion(text="Ban phones in class", lang="en")
    assert second.id.startswith("m-") and second.kb == "bundled" and second.created_by is None
    with pytest.raises(AccountError, match="already exists"):
        store.create_motion(text="again", lang="en", motion_id="m-home")
    with pytest.raises(AccountError, match="needs its text"):
        store.create_motion(text="  ", lang="ko")

    store = backend.reopen()
    assert store.get_motion("m-home") == first and store.get_motion("nope") is None
    expected = sorted(sorted([first, second], key=lambda m: m.id), key=lambda m: m.created_at, reverse=True)
    assert store.list_motions() == expected

    updated = store.update_motion(motion_id="m-home", text=" 숙제 폐지 ", lang="ko", kb="bundled")
    assert updated.text == "숙제 폐지" and updated.kb == "bundled" and updated.text_en == ""
    assert updated.created_at == first.created_at and updated.updated_at >= first.updated_at
    assert updated.created_by == kim.id and store.get_motion("m-home") == updated
    with pytest.raises(AccountError, match="no motion"):
        store.update_motion(motion_id="nope", text="x", lang="en", kb="bundled")
    with pytest.raises(AccountError, match="needs its text"):
        store.update_motion(motion_id="m-home", text=" ", lang="en", kb="bundled")


def test_migrations_apply_once(backend: AccountsBackend) -> None:
    user = backend.store.add_user(name="ann", role="student", password_hash="h")
    assert backend.reopen().get_user(user.id) == user  # reopening re-runs no migration
    assert backend.reopen().list_users() == [user]


def test_open_accounts_picks_postgres_when_a_store_url_is_set(pg_url: str, tmp_path: Path) -> None:
    from pydantic import SecretStr

    from banron.config import Settings, StoreSettings
    from banron.store import open_accounts
    from banron.store.postgres_accounts import PostgresAccountStore

    local = open_accounts(Settings(home=tmp_path))
    assert isinstance(local, AccountStore) and (tmp_path / "accounts.sqlite").exists()
    shared = open_accounts(Settings(home=tmp_path, store=StoreSettings(database_url=SecretStr(pg_url))))
    try:
        assert isinstance(shared, PostgresAccountStore) and shared.schema == "banron_accounts"
        assert pg_url not in repr(shared)
    finally:
        shared.close()


def test_an_unreachable_server_is_database_unavailable() -> None:
    pytest.importorskip("psycopg")
    from banron.pg import DatabaseUnavailable
    from banron.store.postgres_accounts import PostgresAccountStore

    with pytest.raises(DatabaseUnavailable, match="accounts database"):
        PostgresAccountStore("postgresql://nobody@127.0.0.1:9/none", connect_timeout=2)
