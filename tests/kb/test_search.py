"""Fusion alone, over stub rankings (retrieval on real indexes: tests/kb/index/)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from banron.config import KBSettings
from banron.domain import Passage
from banron.kb.index.base import Filters
from banron.kb.search import Retriever, reciprocal_rank_fusion
from banron.kb.tokenize import make_tokenizer


def test_rrf_is_independent_of_ranking_order() -> None:
    a, b, c = ["x", "y", "z"], ["z", "w"], ["y"]
    base = reciprocal_rank_fusion([a, b, c], [1.0, 0.5, 2.0])
    for perm in itertools.permutations([(a, 1.0), (b, 0.5), (c, 2.0)]):
        fused = reciprocal_rank_fusion([r for r, _ in perm], [w for _, w in perm])
        assert fused == pytest.approx(base)


class _StubIndex:
    """Fixed rankings, to test fusion alone."""

    def __init__(self, lexical: list[Passage], dense: list[Passage]) -> None:
        self._lexical, self._dense = lexical, dense

    def lexical(self, kbs: object, tokens: object, k: int, filters: object) -> list[tuple[Passage, float]]:
        return [(p, 1.0) for p in self._lexical[:k]]

    def dense(self, kbs: object, vector: object, k: int, filters: Filters) -> list[tuple[Passage, float]]:
        # one ranking, one score scale: each language's list keeps the same order and spread
        hits = [(p, 1.0 - 0.01 * i) for i, p in enumerate(self._dense)]
        return [h for h in hits if filters.lang in (None, h[0].lang)][:k]


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


class _CosineIndex:
    """Dense search by real cosines over given vectors, honouring the language filter."""

    def __init__(self, items: list[tuple[Passage, list[float]]]) -> None:
        self.items = [(p, np.asarray(v, dtype=np.float32) / np.linalg.norm(v)) for p, v in items]
        self.calls: list[Filters] = []

    def lexical(self, kbs: object, tokens: object, k: int, filters: object) -> list[tuple[Passage, float]]:
        return []

    def dense(self, kbs: object, vector: np.ndarray, k: int, filters: Filters) -> list[tuple[Passage, float]]:
        self.calls.append(filters)
        hits = [(p, float(v @ vector)) for p, v in self.items if filters.lang in (None, p.lang)]
        return sorted(hits, key=lambda h: -h[1])[:k]


def test_the_other_language_is_lifted_by_the_embedders_gap() -> None:
    # The English passage answers best, but as across languages with e5 its cosine is lower
    # than the Korean ones; within the embedder's cross-lingual gap it ranks first.
    ko = [Passage(id=f"ko{i}", kb="t", text="숙제", lang="ko") for i in range(2)]
    en = [Passage(id=f"en{i}", kb="t", text="homework", lang="en") for i in range(2)]
    vectors = [[0.84, 0.54], [0.80, 0.60], [0.81, 0.59], [0.5, 0.87]]
    index = _CosineIndex(list(zip([*ko, *en], vectors, strict=True)))

    class Embedder(_StubEmbedder):
        cross_lingual_gap = 0.05

        def query(self, text: str) -> np.ndarray:
            return np.array([1.0, 0.0], dtype=np.float32)

    r = Retriever(index, Embedder(), make_tokenizer("mecab"), KBSettings())  # type: ignore[arg-type]
    hits = r.search("숙제는 필요하다", ["t"], top_k=4, mode="dense")
    assert [h.passage.id for h in hits] == ["en0", "ko0", "ko1", "en1"]
    assert hits[0].score == pytest.approx(0.81 / np.hypot(0.81, 0.59))  # the shown score: the cosine
    # an English query lifts the Korean passages instead
    assert [h.passage.id for h in r.search("homework", ["t"], top_k=2, mode="dense")] == ["ko0", "ko1"]
    # a language filter is one plain search; an embedder without a gap searches once too
    index.calls.clear()
    only_en = r.search("숙제", ["t"], top_k=3, mode="dense", filters=Filters(lang="en"))
    assert [h.passage.id for h in only_en] == ["en0", "en1"] and len(index.calls) == 1
    index.calls.clear()
    plain = Retriever(index, _StubEmbedder(), make_tokenizer("mecab"), KBSettings())  # type: ignore[arg-type]
    plain.search("숙제", ["t"], top_k=3, mode="dense")
    assert len(index.calls) == 1
