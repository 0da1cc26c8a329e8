"""Citation checks: does the passage behind ``[n]`` support the sentence that cites it?

Two signals, either of which is enough: lexical support (the share of the sentence's content
words found in the passage, Korean-aware) and dense similarity (cosine of the sentence as a query
against the passage). Quotes and close paraphrases pass the first; cross-lingual or reworded
sentences need the second. The thresholds are deliberately strict: a sentence banron cannot back
is dropped, not shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from banron.domain import Passage
from banron.kb.tokenize import LexicalTokenizer

CITATION = re.compile(r"\s*\[(\d{1,2})\]")

LEXICAL_SUPPORT = 0.5
DENSE_SUPPORT = 0.86


@dataclass(frozen=True)
class SupportCheck:
    n: int
    lexical: float
    dense: float | None

    @property
    def supported(self) -> bool:
        return self.lexical >= LEXICAL_SUPPORT or (self.dense is not None and self.dense >= DENSE_SUPPORT)


def cited_numbers(sentence: str) -> list[int]:
    return [int(m) for m in CITATION.findall(sentence)]


def strip_citations(sentence: str) -> str:
    return CITATION.sub("", sentence).strip()


def check_sentence(
    sentence: str,
    passages: Mapping[int, Passage],
    tokenizer: LexicalTokenizer,
    embed_query: Callable[[str], np.ndarray] | None = None,
    passage_vector: Callable[[Passage], np.ndarray] | None = None,
) -> list[SupportCheck]:
    """One check per ``[n]`` in the sentence. A number with no passage gets lexical 0 (unsupported)."""
    claim = strip_citations(sentence)
    claim_tokens = set(tokenizer.tokens(claim))
    out = []
    qvec: np.ndarray | None = None
    for n in cited_numbers(sentence):
        p = passages.get(n)
        if p is None or not claim_tokens:
            out.append(SupportCheck(n, 0.0, None))
            continue
        ptoks = set(tokenizer.tokens(f"{p.title} {p.source} {p.text}"))
        lexical = len(claim_tokens & ptoks) / len(claim_tokens)
        dense = None
        if lexical < LEXICAL_SUPPORT and embed_query is not None and passage_vector is not None:
            if qvec is None:
                qvec = embed_query(claim)
            dense = float(np.dot(qvec, passage_vector(p)))
        out.append(SupportCheck(n, lexical, dense))
    return out
