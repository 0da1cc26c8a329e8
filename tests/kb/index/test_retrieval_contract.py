"""Hybrid retrieval with the real e5 embedder and mecab, on every index implementation.

The index contract (``test_index_contract.py``) checks rankings exactly with a stub embedder; these
check that real Korean and cross-lingual retrieval works end to end on each backend.
"""

from __future__ import annotations

from typing import Any

import pytest
from kb_corpus import DOCS as CORPUS

from banron.config import KBSettings
from banron.kb.embed import EmbeddingCache, get_embedder
from banron.kb.index.base import Filters
from banron.kb.ingest import Ingestor
from banron.kb.search import Retriever
from banron.kb.tokenize import make_tokenizer

DOCS = CORPUS[:5]  # the five passages these retrieval checks were written against


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> EmbeddingCache:
    """Shared by the module's tests: each backend ingests the same passages, embedded once."""
    return EmbeddingCache(tmp_path_factory.mktemp("emb") / "emb.sqlite")


@pytest.fixture
def retriever(index: Any, cache: EmbeddingCache) -> Retriever:
    emb = get_embedder()
    tok = make_tokenizer("mecab")
    Ingestor(index, emb, tok, cache).add_documents("t", DOCS)
    return Retriever(index, emb, tok, KBSettings())


@pytest.mark.parametrize("query", ["숙제는 필요하다", "숙제를 없애자", "숙제가 학습에 도움"])
def test_particle_laden_korean_queries_find_the_stem(retriever: Retriever, query: str) -> None:
    hits = retriever.search(query, ["t"], mode="lexical", top_k=5)
    assert hits, "lexical search returned nothing for a Korean query with particles"
    assert hits[0].passage.id == "p1"


def test_korean_query_finds_english_evidence_densely(retriever: Retriever) -> None:
    hits = retriever.search("매일 숙제를 하면 배운 내용을 더 잘 기억한다", ["t"], mode="dense", top_k=3)
    assert "p3" in [h.passage.id for h in hits]


def test_filters_restrict_motion_stance_and_lang(retriever: Retriever) -> None:
    hits = retriever.search("숙제", ["t"], top_k=10, filters=Filters(motion="hw", stances=("con",)))
    assert {h.passage.id for h in hits} == {"p1", "p3"}
    hits = retriever.search("homework", ["t"], top_k=10, filters=Filters(lang="en"))
    assert [h.passage.id for h in hits] == ["p3"]


def test_counter_evidence_comes_from_the_other_side(retriever: Retriever) -> None:
    hits = retriever.counter_evidence(
        "숙제는 수면을 빼앗는다", ["t"], against_side="pro", motion="hw", top_k=3
    )
    assert hits and all(h.passage.stance in ("con", "neutral") for h in hits)


def test_hybrid_contains_hits_from_both_rankings(retriever: Retriever) -> None:
    hits = retriever.search("숙제 스트레스", ["t"], top_k=5)
    assert any(h.lexical_rank for h in hits) and any(h.dense_rank for h in hits)


def test_hybrid_is_the_same_whether_its_halves_run_side_by_side_or_in_turn(
    retriever: Retriever, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries = ["숙제는 필요하다", "homework helps students learn", "숙제가 학습에 도움"]
    filters = [None, Filters(stances=("con",))]

    def run() -> list[list[tuple[str, float, int | None, int | None]]]:
        hits = [retriever.search(q, ["t"], filters=f) for q in queries for f in filters]
        return [[(h.passage.id, h.score, h.lexical_rank, h.dense_rank) for h in hs] for hs in hits]

    index_type = type(retriever.index)
    default = getattr(index_type, "concurrent_reads", False)
    first = run()
    monkeypatch.setattr(index_type, "concurrent_reads", not default, raising=False)
    assert run() == first and any(first)
