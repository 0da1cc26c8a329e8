"""The web app on PostgreSQL: accounts and debates live in the database, and when the database goes
away under a running app the API answers 503 ``storage_unavailable``, not a bare 500; on a
PostgreSQL knowledge base a teacher uploads, browses and corrects stances as on SQLite."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from web_app import Cast, make_app, runtime_sharing
from web_helpers import UNIFORMS, login, wait_job

from banron.config import StoreSettings
from banron.kb.index.base import Filters
from banron.kb.index.postgres import PostgresIndex
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


def test_a_teacher_uploads_browses_and_corrects_stances_on_a_postgres_index(
    web_runtime: Runtime, doomed_db: str, tmp_path: Path
) -> None:
    kb = web_runtime.settings.kb.model_copy(update={"database_url": SecretStr(doomed_db)})
    rt = Runtime(web_runtime.settings.model_copy(update={"kb": kb}))
    for name in ("embedder", "tokenizer", "cache"):  # the index is the database's own
        rt.__dict__[name] = getattr(web_runtime, name)
    app, _ = make_app(rt, tmp_path / "home", WebConfig(turns_per_minute=1000))
    index = app.state.banron.rt.index
    try:
        assert isinstance(index, PostgresIndex)
        teacher = login(app, "teacher")
        jsonl = "\n".join(json.dumps(u, ensure_ascii=False) for u in UNIFORMS).encode()
        files = [("files", ("uniforms.jsonl", jsonl, "text/plain"))]
        job = wait_job(teacher, teacher.api("POST", "/api/kbs/uniforms/upload", files=files).json()["id"])
        assert job["status"] == "done" and job["report"]["documents_added"] == 3, job

        listing = teacher.client.get("/api/kbs/uniforms/passages", params={"stance": "pro"}).json()
        assert listing["total"] == 1 and [p["id"] for p in listing["passages"]] == ["u1"]
        r = teacher.api("PATCH", "/api/kbs/uniforms/passages", json={"passage_id": "u3", "stance": "pro"})
        assert r.status_code == 200 and r.json()["stance"] == "pro", r.text
        listing = teacher.client.get("/api/kbs/uniforms/passages", params={"stance": "pro"}).json()
        assert sorted(p["id"] for p in listing["passages"]) == ["u1", "u3"]
        page = teacher.client.get("/teacher/kb/uniforms", params={"stance": "con"}).text
        assert "교복과 소속감" in page and "등교 준비" not in page

        # The correction reached the search itself: stance-filtered BM25 finds u3 as pro, not as con.
        tokens = rt.tokenizer.tokens("교복을 입으면 옷을 고르는 시간이 줄어든다")
        pro = [p.id for p, _ in index.lexical(["uniforms"], tokens, 10, Filters(stances=("pro",)))]
        con = [p.id for p, _ in index.lexical(["uniforms"], tokens, 10, Filters(stances=("con",)))]
        assert "u3" in pro and "u3" not in con
        hits = teacher.client.get("/api/kbs/uniforms/search", params={"q": "교복 가격이 비싸다"}).json()
        assert hits and hits[0]["id"] == "u1"
    finally:
        app.state.banron.close()
        index.close()  # the app leaves the runtime's index open (the tests' runtimes share theirs)
