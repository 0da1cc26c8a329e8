"""Fusion alone, over stub rankings (retrieval on real indexes: tests/kb/index/)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from banron.config import KBSettings
from banron.domain import Passage
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
