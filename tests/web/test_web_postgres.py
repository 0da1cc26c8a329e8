"""The web app on PostgreSQL stores: accounts and debates live in the database, and when the database
goes away under a running app the API answers 503 ``storage_unavailable``, not a bare 500."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from web_app import Cast, make_app, runtime_sharing
from web_helpers import login

from banron.config import StoreSettings
from banron.runtime import Runtime
from banron.web.config import WebConfig

_databases = itertools.count(1)


@pytest.fixture
def doomed_db(pg_url: str) -> Iterator[str]:
    """A database of its own on the session's server (the test drops it), as a conninfo string."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    name = f"banron_doomed_{next(_databases)}"
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield make_conninfo(pg_url, dbname=name)
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _drop(pg_url: str, url: str) -> None:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {conninfo_to_dict(url)['dbname']} WITH (FORCE)")  # kills its sessions


@pytest.fixture
def pg_app(web_runtime: Runtime, doomed_db: str, tmp_path: Path) -> Iterator[tuple[FastAPI, Cast]]:
    settings = web_runtime.settings.model_copy(
        update={"store": StoreSettings(database_url=SecretStr(doomed_db))}
    )
    rt = runtime_sharing(web_runtime, settings)
    app, cast = make_app(rt, tmp_path / "home", WebConfig(turns_per_minute=1000))
    yield app, cast
    app.state.banron.close()


def test_accounts_and_debates_live_in_postgres_and_a_lost_database_is_a_503(
    pg_app: tuple[FastAPI, Cast], doomed_db: str, pg_url: str
) -> None:
    from banron.store.postgres import PostgresDebateStore
    from banron.store.postgres_accounts import PostgresAccountStore

    app, _ = pg_app
    state = app.state.banron
    assert isinstance(state.accounts, PostgresAccountStore) and isinstance(state.debates, PostgresDebateStore)
    assert not (Path(state.rt.settings.home) / "accounts.sqlite").exists()  # nothing local

    alice = login(app, "alice")
    motion = alice.api("GET", "/api/motions").json()[0]["id"]
    made = alice.api("POST", "/api/debates", json={"motion_id": motion, "side": "pro"})
    assert made.status_code == 201, made.text
    assert [d["id"] for d in alice.api("GET", "/api/debates").json()] == [made.json()["id"]]

    _drop(pg_url, doomed_db)
    for method, url, body in [
        ("GET", "/api/debates", None),
        ("POST", "/api/debates", {"motion_id": motion, "side": "con"}),
    ]:
        r = alice.api(method, url, json=body)
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "storage_unavailable", r.text
        assert "database server cannot be reached" in r.json()["detail"], r.text
