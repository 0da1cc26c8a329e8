"""The SearchIndex protocol: storage of passages with their tokens and vectors, and two rankings.

Fusion, stance logic and query embedding live above this in ``banron.kb.search`` so every index
implementation only has to answer "top k by BM25" and "top k by cosine" under the same filters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from banron.domain import Passage, Stance
from banron.kb.index.maintenance import DocumentInfo

# BM25 (Lucene variant) constants, shared by every index so they all rank alike. k1 is bm25s's
# default. b = 1 normalises term frequency fully by passage length (bm25s's default is 0.75): a
# long passage no longer wins on the sheer number of a long claim's words it happens to contain.
# On ArguAna (odd queries choosing among b = 0.75-1.0, even queries testing) b = 1 took lexical
# nDCG@10 from 0.449 to 0.492 and hybrid from 0.493 to 0.513 (even half 0.481 -> 0.501);
# ko-counter moved by one swapped rank (hybrid 0.2751 -> 0.2745, stance-aware 0.6054 -> 0.6040).
BM25_K1 = 1.5
BM25_B = 1.0


@dataclass(frozen=True)
class StoredPassage:
    passage: Passage
    tokens: list[str]
    vector: np.ndarray


@dataclass(frozen=True)
class KBInfo:
    name: str
    documents: int
    passages: int
    langs: dict[str, int] = field(default_factory=dict)
    stances: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Filters:
    """Restrict a search. ``None`` means no restriction on that field."""

    motion: str | None = None
    stances: tuple[str, ...] | None = None
    lang: str | None = None


class SearchIndex(Protocol):
    def ensure_kb(self, kb: str) -> None: ...

    def list_kbs(self) -> list[KBInfo]: ...

    def document_hash(self, kb: str, doc_id: str) -> str | None:
        """Content hash recorded for a document, or None if absent (for incremental ingest)."""
        ...

    def replace_document(
        self, kb: str, doc_id: str, content_hash: str, source: str, items: Sequence[StoredPassage]
    ) -> None:
        """Atomically replace a document's passages (insert when new)."""
        ...

    def delete_document(self, kb: str, doc_id: str) -> bool: ...

    # Document housekeeping: what `kb docs` / `kb rm` show and do, and what incremental ingest
    # needs to notice moved, renamed and vanished files.
    def list_documents(self, kb: str) -> list[DocumentInfo]: ...

    def remove_document_ids(self, kb: str, doc_ids: Iterable[str]) -> int: ...

    def remove_documents(self, kb: str, source_or_doc_id: str) -> list[str]: ...

    def rename_source(self, kb: str, old: str, new: str) -> int: ...

    def set_document_source(self, kb: str, doc_ids: Iterable[str], source: str) -> int: ...

    def passage_fingerprints(self, kb: str, doc_ids: Iterable[str]) -> dict[str, str]: ...

    # A teacher's correction of which side of which motion a passage supports (False: no such
    # passage). Filtered searches see it at once; re-adding the unchanged file keeps it.
    def set_labels(self, kb: str, passage_id: str, *, stance: Stance, motion: str) -> bool: ...

    def get(self, kb: str, passage_id: str) -> Passage | None: ...

    # The stored vectors of these passages (what the embedder made of each passage's text when
    # it was added); ids not in the knowledge base are left out.
    def vectors(self, kb: str, passage_ids: Sequence[str]) -> dict[str, np.ndarray]: ...

    # A page of a knowledge base's passages in storage order (documents, then position), only
    # those of one stance when given, with how many there are in all (the teachers' browser).
    def browse(
        self, kb: str, *, stance: Stance | None = None, offset: int = 0, limit: int = 50
    ) -> tuple[int, list[Passage]]: ...

    def count(self, kb: str) -> int: ...

    def lexical(
        self, kbs: Sequence[str], tokens: list[str], k: int, filters: Filters
    ) -> list[tuple[Passage, float]]: ...

    def dense(
        self, kbs: Sequence[str], vector: np.ndarray, k: int, filters: Filters
    ) -> list[tuple[Passage, float]]: ...


def passage_from_row(kb: str, row: Sequence[object]) -> Passage:
    """A passage from a row of its columns in the order both indexes select them: id, doc_id, text,
    title, source, lang, stance, motion, start, end, page, section."""
    pid, doc_id, text, title, source, lang, stance, motion, start, end, page, section = row
    return Passage(
        id=str(pid),
        kb=kb,
        text=str(text),
        title=str(title),
        source=str(source),
        lang=str(lang),
        stance=stance,  # type: ignore[arg-type]
        motion=str(motion),
        doc_id=str(doc_id),
        start=int(start),  # type: ignore[call-overload]
        end=int(end),  # type: ignore[call-overload]
        page=None if page is None else int(page),  # type: ignore[call-overload]
        section=str(section or ""),
    )
