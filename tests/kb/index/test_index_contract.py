"""The SearchIndex contract: every implementation (SQLite, PostgreSQL) passes this one suite.

Rankings are checked against oracles computed here from the corpus itself: BM25 (Lucene variant,
as bm25s and both indexes compute it) and exact cosine. Writes, replacements and deletions must
keep those rankings exact, which for PostgreSQL means its stored statistics (document frequencies,
passage count, total length) follow every change.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from kb_corpus import DOCS

from banron.config import KBSettings
from banron.domain import Passage
from banron.kb.index import maintenance
from banron.kb.index.base import Filters, StoredPassage
from banron.kb.ingest import Ingestor
from banron.kb.loaders import Document
from banron.kb.search import Retriever
from banron.kb.tokenize import make_tokenizer

DIM = 8


def _vec(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def _sp(
    pid: str,
    doc: str,
    tokens: list[str],
    stance: str = "neutral",
    motion: str = "hw",
    lang: str = "ko",
    seed: int | None = None,
    **extra: Any,
) -> StoredPassage:
    text = " ".join(tokens) or "(빈 문단)"
    p = Passage(id=pid, kb="", text=text, lang=lang, stance=stance, motion=motion, doc_id=doc, **extra)  # type: ignore[arg-type]
    return StoredPassage(p, tokens, _vec(seed if seed is not None else sum(map(ord, pid))))


# doc id -> passages; tokens given directly (what the tokenizer would have produced).
CORPUS: dict[str, list[StoredPassage]] = {
    "d1": [
        _sp("p1", "d1", ["숙제", "학습", "습관", "숙제"], "con", start=0, end=20, page=1, section="서론"),
        _sp("p2", "d1", ["수면", "시간", "숙제", "스트레스"], "pro", start=20, end=45, page=2),
    ],
    "d2": [
        _sp("p3", "d2", ["homework", "retention", "class"], "con", lang="en"),
        _sp("p4", "d2", ["phone", "ban", "focus", "class"], "pro", motion="phone", lang="en"),
    ],
    "d3": [
        _sp("p5", "d3", ["주", "4일제", "생산성"], "pro", motion="week"),
        _sp("p6", "d3", [], "neutral"),  # no lexical token at all: still counted by BM25
        _sp("p7", "d3", ["숙제", "숙제", "숙제", "부담", "학생", "학생", "성적", "하락", "우려"], "neutral"),
    ],
    # Same tokens and length as p3: the two always tie, and ties go to the smaller id.
    "d4": [_sp("p8", "d4", ["homework", "retention", "class"], "pro", lang="en")],
}

QUERIES = [
    ["숙제"],
    ["숙제", "스트레스"],
    ["숙제", "숙제", "학습"],  # a repeated query term counts twice
    ["homework", "class", "없는말"],  # an unknown term changes nothing
    ["retention"],
    ["class"],
    ["없는말"],
]
FILTERS = [
    Filters(),
    Filters(motion="hw"),
    Filters(stances=("con",)),
    Filters(motion="hw", stances=("pro", "neutral")),
    Filters(lang="en"),
    Filters(motion="hw", stances=("con",), lang="ko"),
    Filters(motion="nothing"),
]


def _write(index: Any, kb: str = "t", corpus: dict[str, list[StoredPassage]] = CORPUS) -> None:
    for doc_id, items in corpus.items():
        index.replace_document(kb, doc_id, f"hash-{doc_id}", f"/src/{doc_id}.txt", items)


def _allowed(p: Passage, f: Filters) -> bool:
    return (
        (f.motion is None or p.motion == f.motion)
        and (f.stances is None or p.stance in f.stances)
        and (f.lang is None or p.lang == f.lang)
    )


def bm25_oracle(
    corpus: dict[str, list[StoredPassage]], query: list[str], k: int, f: Filters
) -> list[tuple[str, float]]:
    """BM25 (k1=1.5, b=1, idf = ln(1 + (N - df + 0.5) / (df + 0.5))) over the whole corpus."""
    items = [it for its in corpus.values() for it in its]
    n = len(items)
    lengths = [max(len(it.tokens), 1) for it in items]
    avg = sum(lengths) / n
    df = Counter(t for it in items for t in set(it.tokens))
    out = []
    for it, length in zip(items, lengths, strict=True):
        tf = Counter(it.tokens)
        score = 0.0
        for t in query:
            if tf[t]:
                idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                score += idf * tf[t] / (tf[t] + 1.5 * length / avg)  # b = 1: 1 - b + b * length / avg
        if score > 0 and _allowed(it.passage, f):
            out.append((it.passage.id, score))
    return sorted(out, key=lambda r: (-r[1], r[0]))[:k]


def cosine_oracle(
    corpus: dict[str, list[StoredPassage]], q: np.ndarray, k: int, f: Filters
) -> list[tuple[str, float]]:
    items = [it for its in corpus.values() for it in its if _allowed(it.passage, f)]
    scored = [(it.passage.id, float(it.vector @ q)) for it in items]
    return sorted(scored, key=lambda r: (-r[1], r[0]))[:k]


def _ranked(results: Sequence[tuple[Passage, float]]) -> list[tuple[str, float]]:
    return [(p.id, s) for p, s in results]


def _assert_ranking(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    assert [i for i, _ in got] == [i for i, _ in want]
    assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-5, abs=1e-6)


@pytest.fixture
def filled(index: Any) -> Any:
    _write(index)
    return index


# -- storage ---------------------------------------------------------------------------------------
def test_a_new_knowledge_base_is_empty(index: Any) -> None:
    index.ensure_kb("t")
    index.ensure_kb("t")  # idempotent
    assert index.has_kb("t") and not index.has_kb("other")
    assert [(i.name, i.documents, i.passages) for i in index.list_kbs()] == [("t", 0, 0)]
    assert index.count("t") == 0 and index.document_hash("t", "d1") is None
    assert index.lexical(["t"], ["숙제"], 5, Filters()) == []
    assert index.dense(["t"], _vec(1), 5, Filters()) == []


def test_passages_round_trip_with_every_field(filled: Any) -> None:
    for items in CORPUS.values():
        for it in items:
            got = filled.get("t", it.passage.id)
            assert got == Passage(**{**it.passage.to_dict(), "kb": "t"})
    assert filled.get("t", "nope") is None and filled.get("other", "p1") is None
    assert filled.document_hash("t", "d2") == "hash-d2"
    assert filled.count("t") == 8
    [info] = filled.list_kbs()
    assert (info.name, info.documents, info.passages) == ("t", 4, 8)
    assert info.langs == {"ko": 5, "en": 3}
    assert info.stances == {"con": 2, "pro": 4, "neutral": 2}
    assert filled.stance_counts("t") == Counter({"pro": 4, "con": 2, "neutral": 2})
    assert filled.stance_counts("t", "hw") == Counter({"pro": 2, "con": 2, "neutral": 2})
    assert filled.stance_counts("t", "nothing") == Counter()
    # storage order: document, then position in it, then id
    assert [p.id for p in filled.all_passages("t")] == ["p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8"]


def test_replacing_a_document_replaces_its_passages(filled: Any) -> None:
    new = [_sp("p9", "d1", ["새", "숙제"], "pro")]
    filled.replace_document("t", "d1", "hash-d1b", "/src/d1.txt", new)
    assert filled.get("t", "p1") is None and filled.get("t", "p2") is None
    assert filled.get("t", "p9") is not None and filled.document_hash("t", "d1") == "hash-d1b"
    assert filled.count("t") == 7
    corpus = {**CORPUS, "d1": new}
    for q in QUERIES:
        _assert_ranking(
            _ranked(filled.lexical(["t"], q, 10, Filters())), bm25_oracle(corpus, q, 10, Filters())
        )


def test_a_passage_id_reused_by_another_document_moves_to_it(filled: Any) -> None:
    moved = _sp("p3", "d9", ["homework", "moved"], "pro", lang="en")
    filled.replace_document("t", "d9", "h9", "/src/d9.txt", [moved])
    p = filled.get("t", "p3")
    assert p is not None and p.doc_id == "d9" and p.text == "homework moved"
    assert filled.count("t") == 8
    corpus = {**CORPUS, "d2": [CORPUS["d2"][1]], "d9": [moved]}
    _assert_ranking(
        _ranked(filled.lexical(["t"], ["homework"], 10, Filters())),
        bm25_oracle(corpus, ["homework"], 10, Filters()),
    )


def test_of_two_items_with_one_id_the_last_wins(index: Any) -> None:
    first, last = _sp("x", "d", ["하나"]), _sp("x", "d", ["둘"], "pro")
    index.replace_document("t", "d", "h", "s", [first, last])
    assert index.count("t") == 1
    p = index.get("t", "x")
    assert p is not None and p.text == "둘" and p.stance == "pro"
    assert index.lexical(["t"], ["하나"], 5, Filters()) == []


def test_deleting_documents_and_knowledge_bases(filled: Any) -> None:
    assert filled.delete_document("t", "d3") is True
    assert filled.delete_document("t", "d3") is False
    assert filled.delete_document("nothing", "d1") is False
    assert filled.count("t") == 5 and filled.get("t", "p7") is None
    corpus = {k: v for k, v in CORPUS.items() if k != "d3"}
    for q in QUERIES:
        _assert_ranking(
            _ranked(filled.lexical(["t"], q, 10, Filters())), bm25_oracle(corpus, q, 10, Filters())
        )
    _write(filled, "other")
    assert filled.delete_kb("t") is True and filled.delete_kb("t") is False
    assert not filled.has_kb("t") and [i.name for i in filled.list_kbs()] == ["other"]
    # the other knowledge base is untouched, statistics included
    for q in QUERIES:
        got = _ranked(filled.lexical(["other"], q, 10, Filters()))
        _assert_ranking(got, bm25_oracle(CORPUS, q, 10, Filters()))


def test_an_empty_document_is_recorded_without_passages(index: Any) -> None:
    index.replace_document("t", "empty", "h", "s", [])
    assert index.document_hash("t", "empty") == "h" and index.count("t") == 0


# -- rankings --------------------------------------------------------------------------------------
def test_lexical_is_bm25(filled: Any) -> None:
    for f in FILTERS:
        for query in QUERIES:
            got = _ranked(filled.lexical(["t"], query, 10, f))
            _assert_ranking(got, bm25_oracle(CORPUS, query, 10, f))
        _assert_ranking(
            _ranked(filled.lexical(["t"], QUERIES[0], 2, f)), bm25_oracle(CORPUS, QUERIES[0], 2, f)
        )


def test_dense_is_exact_cosine(filled: Any) -> None:
    for f in FILTERS:
        for seed in range(5):
            q = _vec(1000 + seed)
            _assert_ranking(_ranked(filled.dense(["t"], q, 4, f)), cosine_oracle(CORPUS, q, 4, f))


def test_ties_at_the_cut_go_to_the_smaller_id(filled: Any) -> None:
    assert _ranked(filled.lexical(["t"], ["retention"], 1, Filters()))[0][0] == "p3"  # p8 ties with it
    filled.replace_document("t", "d6", "h", "s", [_sp("p00", "d6", ["x"], seed=7)])
    filled.replace_document("t", "d5", "h", "s", [_sp("p0", "d5", ["x"], seed=7)])
    assert [p.id for p, _ in filled.dense(["t"], _vec(7), 1, Filters())] == ["p0"]


def test_several_knowledge_bases_are_ranked_together(filled: Any) -> None:
    # Each knowledge base ranks with its own statistics; here q1 lands between t's passages.
    other = {
        "e1": [
            _sp("q1", "e1", ["숙제", "숙제", "숙제", "숙제"], "pro", seed=1),
            _sp("q2", "e1", ["다른", "말"]),
        ]
    }
    _write(filled, "other", other)
    want = sorted(
        bm25_oracle(CORPUS, ["숙제"], 10, Filters()) + bm25_oracle(other, ["숙제"], 10, Filters()),
        key=lambda r: (-r[1], r[0]),
    )[:3]
    got = filled.lexical(["t", "other"], ["숙제"], 3, Filters())
    _assert_ranking(_ranked(got), want)
    assert [(p.kb, p.id) for p, _ in got] == [("t", "p1"), ("other", "q1"), ("t", "p7")]
    q = _vec(1)
    dense = filled.dense(["t", "other"], q, 1, Filters())
    assert [(p.kb, p.id) for p, _ in dense] == [("other", "q1")]


def test_an_unknown_knowledge_base_is_a_key_error(filled: Any) -> None:
    with pytest.raises(KeyError):
        filled.lexical(["t", "missing"], ["숙제"], 5, Filters())
    with pytest.raises(KeyError):
        filled.dense(["missing"], _vec(1), 5, Filters())


# -- transactions and migrations -------------------------------------------------------------------
class _BoomVector:
    """A vector that fails when read: the write breaks after it has begun (old passages deleted)."""

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise RuntimeError("boom")


def test_a_failed_write_leaves_the_index_as_it_was(filled: Any) -> None:
    before = {q[0]: _ranked(filled.lexical(["t"], q, 10, Filters())) for q in QUERIES}
    bad = [_sp("n1", "d1", ["새", "숙제"]), StoredPassage(CORPUS["d1"][0].passage, ["숙제"], _BoomVector())]  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="boom"):
        filled.replace_document("t", "d1", "hash-new", "/src/d1.txt", bad)
    assert filled.document_hash("t", "d1") == "hash-d1"
    assert filled.get("t", "p1") is not None and filled.get("t", "n1") is None
    assert filled.count("t") == 8
    assert {q[0]: _ranked(filled.lexical(["t"], q, 10, Filters())) for q in QUERIES} == before
    with pytest.raises(RuntimeError, match="boom"):  # into a new knowledge base: not even the kb stays
        filled.replace_document("fresh", "d1", "h", "s", bad)
    assert filled.document_hash("fresh", "d1") is None and not filled.has_kb("fresh")


def test_migrations_are_named_recorded_once_and_idempotent(backend: Any) -> None:
    _write(backend.index)
    names = backend.migrations()
    assert names and len(names) == len(set(names)) and names[0] == "m001_kb_schema"
    backend.reopen()
    backend.reopen()
    assert backend.migrations() == names
    assert backend.index.count("t") == 8  # reopening keeps the data
    _assert_ranking(
        _ranked(backend.index.lexical(["t"], ["숙제"], 10, Filters())),
        bm25_oracle(CORPUS, ["숙제"], 10, Filters()),
    )


# -- document housekeeping (maintenance functions on SQLite, methods on PostgreSQL) --------------
def _housekeeping(backend: Any) -> Any:
    if backend.name == "sqlite":
        path = backend.index.path
        return SimpleNamespace(
            **{
                name: (lambda fn: lambda *a, **kw: fn(path, *a, **kw))(getattr(maintenance, name))
                for name in (
                    "list_documents",
                    "remove_documents",
                    "remove_document_ids",
                    "rename_source",
                    "set_document_source",
                    "passage_fingerprints",
                )
            }
        )
    return backend.index


def test_document_housekeeping(backend: Any) -> None:
    index, hk = backend.index, _housekeeping(backend)
    _write(index)
    docs = hk.list_documents("t")
    assert [(d.doc_id, d.source, d.content_hash, d.passages) for d in docs] == [
        (f"d{i}", f"/src/d{i}.txt", f"hash-d{i}", n) for i, n in [(1, 2), (2, 2), (3, 3), (4, 1)]
    ]
    assert len(docs[0].added_at) == 19  # YYYY-MM-DD HH:MM:SS, UTC
    assert hk.list_documents("nothing") == []
    assert hk.rename_source("t", "/src/d1.txt", "/new/d1.txt") == 1
    assert hk.rename_source("t", "/x", "/x") == 0
    assert hk.set_document_source("t", ["d2", "d3"], "/new/d1.txt") == 2
    fp = hk.passage_fingerprints("t", ["d1", "d3", "missing"])
    assert fp == {
        "d1": maintenance.passage_fingerprint(it.passage.text for it in CORPUS["d1"]),
        "d3": maintenance.passage_fingerprint(it.passage.text for it in CORPUS["d3"]),
    }
    assert hk.remove_documents("t", "/new/d1.txt") == ["d1", "d2", "d3"]
    assert hk.remove_document_ids("t", ["d4", "missing"]) == 1
    assert index.count("t") == 0 and index.lexical(["t"], ["class"], 5, Filters()) == []


# -- through the ingestor and the retriever ---------------------------------------------------------
class StubEmbedder:
    """Deterministic unit vectors from the text's hash (no model)."""

    name, dim, max_tokens = "stub", DIM, 512

    def _vec(self, text: str) -> np.ndarray:
        return _vec(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little"))

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, DIM), np.float32)

    def query(self, text: str) -> np.ndarray:
        return self._vec(text)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


@pytest.fixture(scope="module")
def mecab() -> Any:
    return make_tokenizer("mecab")


@pytest.fixture
def ingested(index: Any, mecab: Any) -> Any:
    Ingestor(index, StubEmbedder(), mecab, None).add_documents("t", DOCS)
    return index


@pytest.mark.parametrize("query", ["숙제는 필요하다", "숙제를 없애자", "숙제가 학습에 도움이 된다"])
def test_korean_queries_with_particles_find_the_stem(ingested: Any, mecab: Any, query: str) -> None:
    hits = ingested.lexical(["t"], mecab.tokens(query), 5, Filters())
    assert hits, "lexical search returned nothing for a Korean query with particles"
    assert {p.id for p, _ in hits} >= {"p1", "p6"}  # 숙제는 / 숙제를 both reduce to 숙제
    assert hits[0][0].id in {"p1", "p6"}


class _OracleIndex:
    """The oracles above behind the SearchIndex reading methods (for the retriever)."""

    def __init__(self, corpus: dict[str, list[StoredPassage]]) -> None:
        self.corpus = corpus
        self.by_id = {it.passage.id: it.passage for its in corpus.values() for it in its}

    def _p(self, pid: str) -> Passage:
        return Passage(**{**self.by_id[pid].to_dict(), "kb": "t"})

    def lexical(
        self, kbs: Sequence[str], tokens: list[str], k: int, f: Filters
    ) -> list[tuple[Passage, float]]:
        return [(self._p(i), s) for i, s in bm25_oracle(self.corpus, tokens, k, f)]

    def dense(
        self, kbs: Sequence[str], vector: np.ndarray, k: int, f: Filters
    ) -> list[tuple[Passage, float]]:
        return [(self._p(i), s) for i, s in cosine_oracle(self.corpus, vector, k, f)]


def _oracle_of(index: Any, tokenizer: Any) -> _OracleIndex:
    """The corpus the ingestor wrote, rebuilt from the index's own passages."""
    emb = StubEmbedder()
    corpus: dict[str, list[StoredPassage]] = {}
    for p in index.all_passages("t"):
        item = StoredPassage(p, tokenizer.tokens(f"{p.title}\n{p.text}"), emb.passages([p.text])[0])
        corpus.setdefault(p.doc_id, []).append(item)
    return _OracleIndex(corpus)


def test_retriever_results_equal_the_oracles(ingested: Any, mecab: Any) -> None:
    settings = KBSettings()
    real = Retriever(ingested, StubEmbedder(), mecab, settings)
    oracle = Retriever(_oracle_of(ingested, mecab), StubEmbedder(), mecab, settings)  # type: ignore[arg-type]
    cases = itertools.product(
        ["숙제 스트레스", "homework retention", "생산성", "학생의 수면"],
        ["lexical", "dense", "hybrid"],
        [None, Filters(motion="hw", stances=("pro",)), Filters(lang="en")],
    )
    for query, mode, f in cases:
        got = real.search(query, ["t"], top_k=5, mode=mode, filters=f)  # type: ignore[arg-type]
        want = oracle.search(query, ["t"], top_k=5, mode=mode, filters=f)  # type: ignore[arg-type]
        assert [(h.passage.id, h.lexical_rank, h.dense_rank) for h in got] == [
            (h.passage.id, h.lexical_rank, h.dense_rank) for h in want
        ]
        assert [h.score for h in got] == pytest.approx([h.score for h in want], rel=1e-5, abs=1e-6)


def test_counter_evidence_comes_from_the_other_side(ingested: Any, mecab: Any) -> None:
    r = Retriever(ingested, StubEmbedder(), mecab, KBSettings())
    hits = r.counter_evidence("숙제는 수면을 빼앗는다", ["t"], against_side="pro", motion="hw", top_k=3)
    assert hits and all(h.passage.stance in ("con", "neutral") for h in hits)
    assert {h.passage.id for h in hits} == {"p1", "p3"}


def test_reingest_is_idempotent_and_changes_replace(index: Any, mecab: Any) -> None:
    ing = Ingestor(index, StubEmbedder(), mecab, None)
    assert ing.add_documents("t", DOCS).documents_added == len(DOCS)
    again = ing.add_documents("t", DOCS)
    assert again.documents_unchanged == len(DOCS) and again.passages_written == 0
    changed = [Document("d1", "숙제는 폐지되어야 한다.", stance="pro", motion="hw", passage_id="p1")]
    assert ing.add_documents("t", changed).documents_updated == 1
    assert index.count("t") == len(DOCS)
    p = index.get("t", "p1")
    assert p is not None and p.text == "숙제는 폐지되어야 한다." and p.stance == "pro"


def test_a_corrected_stance_is_what_filtered_searches_see_at_once(filled: Any) -> None:
    # p1 is "con" on "hw"; a teacher says it argues "pro" on "phone".
    filled.lexical(["t"], ["숙제"], 10, Filters(stances=("con",)))  # loaded (and cached) before
    assert filled.set_labels("t", "p1", stance="pro", motion="phone") is True
    corrected = {
        doc: [
            StoredPassage(replace(it.passage, stance="pro", motion="phone"), it.tokens, it.vector)
            if it.passage.id == "p1"
            else it
            for it in items
        ]
        for doc, items in CORPUS.items()
    }
    p1 = filled.get("t", "p1")
    assert (p1.stance, p1.motion, p1.text) == ("pro", "phone", CORPUS["d1"][0].passage.text)
    for f in [*FILTERS, Filters(motion="phone", stances=("pro",))]:
        for query in QUERIES:
            want = bm25_oracle(corrected, query, 10, f)
            _assert_ranking(_ranked(filled.lexical(["t"], query, 10, f)), want)
        q = _vec(1001)
        _assert_ranking(_ranked(filled.dense(["t"], q, 4, f)), cosine_oracle(corrected, q, 4, f))
    assert filled.stance_counts("t") == Counter({"pro": 5, "con": 1, "neutral": 2})
    assert filled.set_labels("t", "nothing", stance="con", motion="hw") is False
    with pytest.raises(ValueError):
        filled.set_labels("t", "p2", stance="maybe", motion="hw")
    assert filled.get("t", "p2").stance == "pro"


def test_browsing_pages_through_passages_in_storage_order(filled: Any) -> None:
    order = [p.id for p in filled.all_passages("t")]
    total, page = filled.browse("t", offset=0, limit=3)
    assert total == 8 and [p.id for p in page] == order[:3]
    total, page = filled.browse("t", offset=6, limit=3)
    assert total == 8 and [p.id for p in page] == order[6:]
    total, page = filled.browse("t", stance="pro", offset=1, limit=10)
    pros = [i for i in order if filled.get("t", i).stance == "pro"]
    assert total == len(pros) == 4 and [p.id for p in page] == pros[1:]
    assert filled.browse("t", offset=50, limit=3) == (8, [])
    with pytest.raises(KeyError):
        filled.browse("nothing")


def test_stored_vectors_are_returned_by_passage_id(filled: Any) -> None:
    got = filled.vectors("t", ["p2", "p7", "nothing"])
    assert set(got) == {"p2", "p7"}
    for pid, doc, i in (("p2", "d1", 1), ("p7", "d3", 2)):
        assert got[pid].dtype == np.float32
        assert np.allclose(got[pid], CORPUS[doc][i].vector, atol=1e-6)
    assert filled.vectors("t", []) == {}
