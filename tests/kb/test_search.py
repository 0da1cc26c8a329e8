"""Hybrid retrieval over a real SQLite index with the real embedder and tokenizer."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from banron.config import KBSettings
from banron.domain import Passage
from banron.kb.embed import EmbeddingCache, get_embedder
from banron.kb.index.base import Filters
from banron.kb.index.sqlite import SQLiteIndex
from banron.kb.ingest import Ingestor
from banron.kb.loaders import Document
from banron.kb.search import Retriever, reciprocal_rank_fusion
from banron.kb.tokenize import make_tokenizer

DOCS = [
    Document(
        "d1", "숙제는 학생의 자기주도 학습 습관을 길러 준다.", stance="con", motion="hw", passage_id="p1"
    ),
    Document(
        "d2",
        "과도한 과제는 청소년의 수면 시간을 줄이고 스트레스를 높인다.",
        stance="pro",
        motion="hw",
        passage_id="p2",
    ),
    Document(
        "d3",
        "Daily homework improves retention of what was learned in class.",
        stance="con",
        motion="hw",
        passage_id="p3",
        lang="en",
    ),
    Document(
        "d4",
        "스마트폰 사용 제한 이후 수업 집중도가 높아졌다는 조사 결과가 있다.",
        stance="pro",
        motion="phone",
        passage_id="p4",
    ),
    Document(
        "d5", "주 4일제 시범 기업의 생산성은 떨어지지 않았다.", stance="pro", motion="week", passage_id="p5"
    ),
]


@pytest.fixture
def retriever(tmp_path: Path) -> Retriever:
    index = SQLiteIndex(tmp_path / "kb.sqlite")
    emb = get_embedder()
    tok = make_tokenizer("mecab")
    Ingestor(index, emb, tok, EmbeddingCache(tmp_path / "emb.sqlite")).add_documents("t", DOCS)
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


def test_rrf_is_independent_of_ranking_order() -> None:
    a, b, c = ["x", "y", "z"], ["z", "w"], ["y"]
    base = reciprocal_rank_fusion([a, b, c], [1.0, 0.5, 2.0])
    for perm in itertools.permutations([(a, 1.0), (b, 0.5), (c, 2.0)]):
        fused = reciprocal_rank_fusion([r for r, _ in perm], [w for _, w in perm])
        assert fused == pytest.approx(base)


def test_reingest_is_idempotent_and_changes_replace(tmp_path: Path) -> None:
    index = SQLiteIndex(tmp_path / "kb.sqlite")
    ing = Ingestor(index, get_embedder(), make_tokenizer("mecab"), EmbeddingCache(tmp_path / "e.sqlite"))
    first = ing.add_documents("t", DOCS)
    assert first.documents_added == len(DOCS)
    again = ing.add_documents("t", DOCS)
    assert again.documents_unchanged == len(DOCS) and again.passages_written == 0
    changed = [Document("d1", "숙제는 폐지되어야 한다.", stance="pro", motion="hw", passage_id="p1")]
    rep = ing.add_documents("t", changed)
    assert rep.documents_updated == 1
    assert index.count("t") == len(DOCS)
    p = index.get("t", "p1")
    assert p is not None and p.text == "숙제는 폐지되어야 한다." and p.stance == "pro"


class _StubIndex:
    """Fixed rankings, to test fusion alone."""

    def __init__(self, lexical: list[Passage], dense: list[Passage]) -> None:
        self._lexical, self._dense = lexical, dense

    def lexical(self, kbs: object, tokens: object, k: int, filters: object) -> list[tuple[Passage, float]]:
        return [(p, 1.0) for p in self._lexical[:k]]

    def dense(self, kbs: object, vector: object, k: int, filters: object) -> list[tuple[Passage, float]]:
        return [(p, 1.0) for p in self._dense[:k]]


class _StubEmbedder:
    name, dim, max_tokens = "stub", 2, 512

    def query(self, text: str) -> np.ndarray:
        return np.zeros(2, dtype=np.float32)


def test_cross_lingual_passages_are_not_penalised_for_missing_the_lexical_ranking() -> None:
    ko = Passage(id="ko", kb="t", text="숙제", lang="ko")
    en = Passage(id="en", kb="t", text="homework", lang="en")
    other_ko = Passage(id="ko2", kb="t", text="숙제 부담", lang="ko")
    index = _StubIndex(lexical=[ko, other_ko], dense=[en, ko, other_ko])
    r = Retriever(index, _StubEmbedder(), make_tokenizer("mecab"), KBSettings())  # type: ignore[arg-type]
    hits = r.search("숙제는 필요하다", ["t"], top_k=3)
    # The English passage is dense-ranked first; lexical search could never have found it.
    assert hits[0].passage.id == "en"
    # A Korean passage absent from the lexical ranking gets no such help.
    index = _StubIndex(lexical=[ko], dense=[other_ko, ko])
    r = Retriever(index, _StubEmbedder(), make_tokenizer("mecab"), KBSettings())  # type: ignore[arg-type]
    assert [h.passage.id for h in r.search("숙제는 필요하다", ["t"], top_k=2)] == ["ko", "ko2"]
