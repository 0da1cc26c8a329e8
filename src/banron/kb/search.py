"""Hybrid retrieval: Korean-aware BM25 + dense multilingual cosine, fused by reciprocal rank fusion.

Lexical search finds the student's own words (names, numbers, rare terms); dense search bridges
paraphrase and language (a Korean claim finds English evidence). Fusing ranks rather than scores
needs no calibration between the two. Stance-aware search asks for passages on one side of a
motion first, which is what a rebuttal needs: evidence *against* the student's claim.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, get_args

import numpy as np

from banron.config import KBSettings
from banron.domain import Hit, Lang, Passage
from banron.kb.embed import Embedder
from banron.kb.index.base import Filters, SearchIndex
from banron.kb.lang import detect_lang
from banron.kb.tokenize import LexicalTokenizer
from banron.util import ForkSafeThreadPool

Mode = Literal["lexical", "dense", "hybrid"]
LANGS: tuple[str, ...] = get_args(Lang)

# Threads that run a database index's searches beside the caller's: a hybrid search's lexical
# half, and the dense search of every language but the first.
_SIDE_POOL = ForkSafeThreadPool("banron-side-search", lambda: 8)


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], weights: Sequence[float], k: int = 60
) -> dict[str, float]:
    """Fused score per id: sum of ``weight / (k + rank)`` over the rankings (ranks start at 1).

    Independent of the order in which rankings are given.
    """
    fused: dict[str, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        for rank, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + w / (k + rank)
    return fused


@dataclass
class Retriever:
    index: SearchIndex
    embedder: Embedder
    tokenizer: LexicalTokenizer
    settings: KBSettings

    def search(
        self,
        query: str,
        kbs: Sequence[str],
        *,
        top_k: int = 10,
        mode: Mode = "hybrid",
        filters: Filters | None = None,
    ) -> list[Hit]:
        filters = filters or Filters()
        n = max(top_k, self.settings.candidates)
        lexical: list[tuple[Passage, float]] = []
        dense: list[tuple[Passage, float]] = []
        query_lang = detect_lang(query)
        if mode == "hybrid" and getattr(self.index, "concurrent_reads", False):
            # A database index answers on several connections: its BM25 query runs while the
            # query is embedded and the dense search runs here, so hybrid takes about as long as
            # the slower of the two, not their sum.
            tokens = self.tokenizer.tokens(query)
            pending = _SIDE_POOL.get().submit(self.index.lexical, kbs, tokens, n, filters)
            try:
                dense = self.dense(kbs, self.embedder.query(query), n, filters, query_lang)
            finally:
                lexical = pending.result()
        else:
            if mode in ("lexical", "hybrid"):
                lexical = self.index.lexical(kbs, self.tokenizer.tokens(query), n, filters)
            if mode in ("dense", "hybrid"):
                dense = self.dense(kbs, self.embedder.query(query), n, filters, query_lang)
        if mode == "lexical":
            return [Hit(p, s, lexical_rank=i) for i, (p, s) in enumerate(lexical[:top_k], 1)]
        if mode == "dense":
            return [Hit(p, s, dense_rank=i) for i, (p, s) in enumerate(dense[:top_k], 1)]

        def key(p: Passage) -> str:
            return f"{p.kb}\x1f{p.id}"

        by_key = {key(p): p for p, _ in [*lexical, *dense]}
        lex_ids = [key(p) for p, _ in lexical]
        den_ids = [key(p) for p, _ in dense]
        fused = reciprocal_rank_fusion(
            [lex_ids, den_ids],
            [self.settings.lexical_weight, self.settings.dense_weight],
            k=self.settings.rrf_k,
        )
        lex_rank = {k_: i for i, k_ in enumerate(lex_ids, 1)}
        den_rank = {k_: i for i, k_ in enumerate(den_ids, 1)}
        # Lexical search is blind across languages: a passage in the other language is missing from
        # its ranking for that reason alone, not for lack of relevance. Let its dense rank stand in
        # for the lexical one, so cross-lingual evidence competes on equal terms.
        for k_, rank in den_rank.items():
            if k_ not in lex_rank and by_key[k_].lang and by_key[k_].lang != query_lang:
                fused[k_] += self.settings.lexical_weight / (self.settings.rrf_k + rank)
        ordered = sorted(fused, key=lambda k_: (-fused[k_], k_))[:top_k]
        return [Hit(by_key[k_], fused[k_], lex_rank.get(k_), den_rank.get(k_)) for k_ in ordered]

    def dense(
        self, kbs: Sequence[str], vector: np.ndarray, k: int, filters: Filters, query_lang: str
    ) -> list[tuple[Passage, float]]:
        """The k nearest passages, languages compared fairly; each comes with its plain cosine.

        Multilingual embedders score a pair in two languages lower than a pair in one language,
        whatever their relevance (e5-small: by ~0.055, ``E5SmallEmbedder.cross_lingual_gap``), so
        one ranking over both buries the other language's evidence. Each language is searched on
        its own, so both always have candidates, and the other language's cosines are raised by
        the embedder's gap before merging. (ko-counter, dense with stance labels: nDCG@10
        0.554 -> 0.66.)
        """
        gap = float(getattr(self.embedder, "cross_lingual_gap", 0.0))
        if filters.lang is not None or not gap:
            return self.index.dense(kbs, vector, k, filters)
        per_lang = {lang: replace(filters, lang=lang) for lang in LANGS}
        found: dict[str, list[tuple[Passage, float]]] = {}
        if getattr(self.index, "concurrent_reads", False):
            # A database index answers each language on its own connection at the same time: a
            # filtered search at 1M chunks scans each language's allowed passages exactly, and
            # two such scans one after the other were most of a debate's search time.
            first, *others = LANGS
            pool = _SIDE_POOL.get()
            pending = {lang: pool.submit(self.index.dense, kbs, vector, k, per_lang[lang]) for lang in others}
            try:
                found[first] = self.index.dense(kbs, vector, k, per_lang[first])
            finally:  # (an error here still waits for the other searches before it propagates)
                found.update({lang: future.result() for lang, future in pending.items()})
        else:
            found = {lang: self.index.dense(kbs, vector, k, f) for lang, f in per_lang.items()}
        ranked: list[tuple[float, Passage, float]] = []
        for lang in LANGS:
            lift = 0.0 if lang == query_lang else gap
            ranked += [(s + lift, p, s) for p, s in found[lang]]
        ranked.sort(key=lambda r: (-r[0], r[1].kb, r[1].id))
        return [(p, s) for _, p, s in ranked[:k]]

    def counter_evidence(
        self,
        claim: str,
        kbs: Sequence[str],
        *,
        against_side: str,
        motion: str | None,
        top_k: int = 5,
    ) -> list[Hit]:
        """Evidence for the side opposite ``against_side``: that side's passages first, then neutral.

        When a knowledge base carries no stance labels for this motion (a teacher's plain PDFs), the
        search falls back to all passages, label-free.
        """
        own = "con" if against_side == "pro" else "pro"
        hits = self.search(claim, kbs, top_k=top_k, filters=Filters(motion=motion, stances=(own,)))
        if len(hits) < top_k:
            seen = {(h.passage.kb, h.passage.id) for h in hits}
            extra = self.search(claim, kbs, top_k=top_k, filters=Filters(motion=motion, stances=("neutral",)))
            hits += [h for h in extra if (h.passage.kb, h.passage.id) not in seen][: top_k - len(hits)]
        if not hits and motion is not None:
            hits = self.counter_evidence(claim, kbs, against_side=against_side, motion=None, top_k=top_k)
        return hits
