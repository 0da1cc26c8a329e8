"""The embedded default index: passages in one SQLite file, rankings computed in memory.

SQLite is the source of truth (transactional, survives crashes); on first search of a knowledge
base its passages are loaded once into a BM25 index (bm25s's Lucene scoring, built with numpy) and
a float32 matrix for exact cosine search, and rebuilt only when that knowledge base's generation
counter moves.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from banron.domain import Passage, Stance
from banron.kb.index import maintenance
from banron.kb.index.base import BM25_B, BM25_K1, Filters, KBInfo, StoredPassage, passage_from_row
from banron.kb.index.maintenance import DocumentInfo
from banron.util import Migration, atomic_sqlite, migrate

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kbs (
    name TEXT PRIMARY KEY,
    generation INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE TABLE IF NOT EXISTS documents (
    kb TEXT NOT NULL REFERENCES kbs(name) ON DELETE CASCADE,
    doc_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    added_at TEXT NOT NULL DEFAULT (datetime('now')),
    PRIMARY KEY (kb, doc_id)
);
CREATE TABLE IF NOT EXISTS passages (
    kb TEXT NOT NULL,
    id TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    text TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    lang TEXT NOT NULL DEFAULT '',
    stance TEXT NOT NULL DEFAULT 'neutral',
    motion TEXT NOT NULL DEFAULT '',
    start INTEGER NOT NULL DEFAULT 0,
    "end" INTEGER NOT NULL DEFAULT 0,
    page INTEGER,
    section TEXT NOT NULL DEFAULT '',
    tokens TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (kb, id),
    FOREIGN KEY (kb, doc_id) REFERENCES documents(kb, doc_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS passages_doc ON passages(kb, doc_id);
"""


def _m001_kb_schema(db: sqlite3.Connection) -> None:
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


# Named, append-only: never edit or reorder an entry; add a new one.
MIGRATIONS: list[Migration] = [("m001_kb_schema", _m001_kb_schema)]

_COLS = 'id, doc_id, text, title, source, lang, stance, motion, start, "end", page, section'


# A filter that selects more separate row ranges than this is answered from one gathered row list.
_MAX_RANGES = 64
_SELECTION_CACHE = 64


@dataclass(frozen=True)
class _Selection:
    """The rows a filter allows: sorted disjoint ranges, plus the row list when they are many."""

    ranges: tuple[tuple[int, int], ...]
    rows: np.ndarray | None  # row numbers, only when there are more than _MAX_RANGES ranges
    size: int


@dataclass
class _Loaded:
    """One knowledge base in memory.

    Rows are grouped by (motion, stance, lang), storage order kept inside a group, so any filter is
    a few contiguous row ranges: a filtered cosine search multiplies only those rows (slices, no
    copy) and no label is compared per query. ``stored`` keeps storage order for ``all_passages``.
    ``matrix`` rows and ``bm25`` documents are aligned with ``passages``.
    """

    generation: int
    passages: list[Passage]
    stored: list[Passage]
    matrix: np.ndarray
    bm25: _BM25 | None  # None when no passage has a token
    groups: list[tuple[str, str, str]]  # (motion, stance, lang) of each group, in row order
    bounds: np.ndarray  # group g holds rows bounds[g]:bounds[g + 1]
    selections: dict[Filters, _Selection] = field(default_factory=dict)
    _row_of: dict[str, int] | None = None  # passage id -> row, made on first use

    def row_of(self) -> dict[str, int]:
        if self._row_of is None:
            self._row_of = {p.id: i for i, p in enumerate(self.passages)}
        return self._row_of


class SQLiteIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        migrate(path, MIGRATIONS)
        self._loaded: dict[str, _Loaded] = {}
        self._lock = threading.Lock()
        self._probe = threading.local()  # each thread's connection for generation checks

    # -- document housekeeping (kb docs / kb rm, incremental ingest): see maintenance.py ---------
    def list_documents(self, kb: str) -> list[DocumentInfo]:
        return maintenance.list_documents(self.path, kb)

    def remove_document_ids(self, kb: str, doc_ids: Iterable[str]) -> int:
        return maintenance.remove_document_ids(self.path, kb, doc_ids)

    def remove_documents(self, kb: str, source_or_doc_id: str) -> list[str]:
        return maintenance.remove_documents(self.path, kb, source_or_doc_id)

    def rename_source(self, kb: str, old: str, new: str) -> int:
        return maintenance.rename_source(self.path, kb, old, new)

    def set_document_source(self, kb: str, doc_ids: Iterable[str], source: str) -> int:
        return maintenance.set_document_source(self.path, kb, doc_ids, source)

    def passage_fingerprints(self, kb: str, doc_ids: Iterable[str]) -> dict[str, str]:
        return maintenance.passage_fingerprints(self.path, kb, doc_ids)

    def set_labels(self, kb: str, passage_id: str, *, stance: Stance, motion: str) -> bool:
        return maintenance.set_passage_labels(self.path, kb, passage_id, stance=stance, motion=motion)

    def _probe_db(self) -> sqlite3.Connection:
        """This thread's connection, kept open, for the generation check every search makes.

        Opening a connection per check costs little alone (0.2 ms), but each of its steps gives up
        the interpreter lock, and with eight engine threads busy each step waited to get it back:
        10-20 ms a speech in a profile of ``benchmarks/load.py``. A plain SELECT holds no snapshot
        between calls (the driver begins transactions only for writes), so the connection sees
        every commit and never holds back a checkpoint. A forked child opens its own.
        """
        db: sqlite3.Connection | None = getattr(self._probe, "db", None)
        if db is None or self._probe.pid != os.getpid():
            db = sqlite3.connect(self.path, timeout=30)
            self._probe.db, self._probe.pid = db, os.getpid()
        return db

    def _read(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA foreign_keys=ON")
        return db

    # -- writing -----------------------------------------------------------------------------
    def ensure_kb(self, kb: str) -> None:
        with atomic_sqlite(self.path) as db:
            db.execute("INSERT OR IGNORE INTO kbs (name) VALUES (?)", (kb,))

    def document_hash(self, kb: str, doc_id: str) -> str | None:
        with self._read() as db:
            row = db.execute(
                "SELECT content_hash FROM documents WHERE kb = ? AND doc_id = ?", (kb, doc_id)
            ).fetchone()
        return row[0] if row else None

    def replace_document(
        self, kb: str, doc_id: str, content_hash: str, source: str, items: Sequence[StoredPassage]
    ) -> None:
        with atomic_sqlite(self.path) as db:
            db.execute("INSERT OR IGNORE INTO kbs (name) VALUES (?)", (kb,))
            db.execute("DELETE FROM documents WHERE kb = ? AND doc_id = ?", (kb, doc_id))
            db.execute(
                "INSERT INTO documents (kb, doc_id, content_hash, source) VALUES (?, ?, ?, ?)",
                (kb, doc_id, content_hash, source),
            )
            db.executemany(
                f"INSERT OR REPLACE INTO passages (kb, {_COLS}, tokens, vector)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        kb,
                        it.passage.id,
                        doc_id,
                        it.passage.text,
                        it.passage.title,
                        it.passage.source,
                        it.passage.lang,
                        it.passage.stance,
                        it.passage.motion,
                        it.passage.start,
                        it.passage.end,
                        it.passage.page,
                        it.passage.section,
                        json.dumps(it.tokens, ensure_ascii=False),
                        np.asarray(it.vector, dtype=np.float32).tobytes(),
                    )
                    for it in items
                ],
            )
            db.execute("UPDATE kbs SET generation = generation + 1 WHERE name = ?", (kb,))

    def delete_document(self, kb: str, doc_id: str) -> bool:
        with atomic_sqlite(self.path) as db:
            cur = db.execute("DELETE FROM documents WHERE kb = ? AND doc_id = ?", (kb, doc_id))
            db.execute("UPDATE kbs SET generation = generation + 1 WHERE name = ?", (kb,))
            return cur.rowcount > 0

    def delete_kb(self, kb: str) -> bool:
        with atomic_sqlite(self.path) as db:
            db.execute("DELETE FROM passages WHERE kb = ?", (kb,))
            db.execute("DELETE FROM documents WHERE kb = ?", (kb,))
            cur = db.execute("DELETE FROM kbs WHERE name = ?", (kb,))
        self._loaded.pop(kb, None)
        return cur.rowcount > 0

    # -- reading -----------------------------------------------------------------------------
    def list_kbs(self) -> list[KBInfo]:
        out = []
        with self._read() as db:
            for (name,) in db.execute("SELECT name FROM kbs ORDER BY name").fetchall():
                docs = db.execute("SELECT count(*) FROM documents WHERE kb = ?", (name,)).fetchone()[0]
                langs = dict(
                    db.execute("SELECT lang, count(*) FROM passages WHERE kb = ? GROUP BY lang", (name,))
                )
                stances = dict(
                    db.execute("SELECT stance, count(*) FROM passages WHERE kb = ? GROUP BY stance", (name,))
                )
                out.append(KBInfo(name, docs, sum(langs.values()), langs, stances))
        return out

    def has_kb(self, kb: str) -> bool:
        with self._read() as db:
            return db.execute("SELECT 1 FROM kbs WHERE name = ?", (kb,)).fetchone() is not None

    def count(self, kb: str) -> int:
        with self._read() as db:
            return int(db.execute("SELECT count(*) FROM passages WHERE kb = ?", (kb,)).fetchone()[0])

    def get(self, kb: str, passage_id: str) -> Passage | None:
        with self._read() as db:
            row = db.execute(
                f"SELECT {_COLS} FROM passages WHERE kb = ? AND id = ?", (kb, passage_id)
            ).fetchone()
        return passage_from_row(kb, row) if row else None

    def _generation(self, kb: str) -> int:
        row = self._probe_db().execute("SELECT generation FROM kbs WHERE name = ?", (kb,)).fetchone()
        if row is None:
            raise KeyError(f"no knowledge base named {kb!r}")
        return int(row[0])

    def _load(self, kb: str) -> _Loaded:
        gen = self._generation(kb)
        with self._lock:
            cached = self._loaded.get(kb)
            if cached is not None and cached.generation == gen:
                return cached
            self._loaded.pop(kb, None)  # let a stale copy go before building the new one
            loaded = _read_kb(self._read, kb, gen)
            self._loaded[kb] = loaded
            return loaded

    def _select(self, data: _Loaded, filters: Filters) -> _Selection:
        sel = data.selections.get(filters)
        if sel is not None:
            return sel
        ranges: list[tuple[int, int]] = []
        stances = None if filters.stances is None else set(filters.stances)
        for g, (motion, stance, lang) in enumerate(data.groups):
            if (
                (filters.motion is None or motion == filters.motion)
                and (stances is None or stance in stances)
                and (filters.lang is None or lang == filters.lang)
            ):
                a, b = int(data.bounds[g]), int(data.bounds[g + 1])
                if ranges and ranges[-1][1] == a:
                    ranges[-1] = (ranges[-1][0], b)
                else:
                    ranges.append((a, b))
        rows = None
        if len(ranges) > _MAX_RANGES:
            rows = np.concatenate([np.arange(a, b) for a, b in ranges])
        sel = _Selection(tuple(ranges), rows, sum(b - a for a, b in ranges))
        if len(data.selections) >= _SELECTION_CACHE:
            data.selections.clear()
        data.selections[filters] = sel
        return sel

    def _top(
        self, kbs: Sequence[str], k: int, filters: Filters, scorer: str, query: object
    ) -> list[tuple[Passage, float]]:
        results: list[tuple[Passage, float]] = []
        for kb in kbs:
            data = self._load(kb)
            if not data.passages or (scorer != "dense" and data.bm25 is None):
                continue
            sel = self._select(data, filters)
            if sel.size == 0:
                continue
            # The scores of the allowed rows only, in row order.
            if scorer == "dense":
                q = np.asarray(query, dtype=np.float32)
                if sel.rows is not None:
                    scores = _dot(data.matrix, q)[sel.rows]
                else:
                    parts = [_dot(data.matrix[a:b], q) for a, b in sel.ranges]
                    scores = parts[0] if len(parts) == 1 else np.concatenate(parts)
            else:
                assert data.bm25 is not None
                full = data.bm25.scores(query)  # type: ignore[arg-type]
                if sel.rows is not None:
                    scores = full[sel.rows]
                else:
                    parts = [full[a:b] for a, b in sel.ranges]
                    scores = parts[0] if len(parts) == 1 else np.concatenate(parts)
            # A passage sharing no term with the query is not a lexical hit.
            results.extend(_best(data.passages, sel, scores, k, positive=scorer == "lexical"))
        results.sort(key=lambda r: (-r[1], r[0].id))
        return results[:k]

    def lexical(
        self, kbs: Sequence[str], tokens: list[str], k: int, filters: Filters
    ) -> list[tuple[Passage, float]]:
        if not tokens:
            return []
        return self._top(kbs, k, filters, "lexical", tokens)

    def dense(
        self, kbs: Sequence[str], vector: np.ndarray, k: int, filters: Filters
    ) -> list[tuple[Passage, float]]:
        return self._top(kbs, k, filters, "dense", vector)

    def vectors(self, kb: str, passage_ids: Sequence[str]) -> dict[str, np.ndarray]:
        data = self._load(kb)
        rows = data.row_of()
        return {i: data.matrix[rows[i]].copy() for i in passage_ids if i in rows}

    def all_passages(self, kb: str) -> list[Passage]:
        return list(self._load(kb).stored)

    def browse(
        self, kb: str, *, stance: Stance | None = None, offset: int = 0, limit: int = 50
    ) -> tuple[int, list[Passage]]:
        matching = [p for p in self._load(kb).stored if stance is None or p.stance == stance]
        return len(matching), matching[offset : offset + limit]

    def stance_counts(self, kb: str, motion: str | None = None) -> Counter[str]:
        data = self._load(kb)
        return Counter(p.stance for p in data.passages if motion is None or p.motion == motion)


def _read_kb(connect: Callable[[], sqlite3.Connection], kb: str, gen: int) -> _Loaded:
    """Read a knowledge base's passages, tokens and vectors into a search-ready ``_Loaded``."""
    stored: list[Passage] = []
    lexical = _BM25()
    tokens: list[str] = []  # JSON token lists, parsed a batch at a time as rows stream in
    matrix: np.ndarray | None = None
    with connect() as db:
        n = int(db.execute("SELECT count(*) FROM passages WHERE kb = ?", (kb,)).fetchone()[0])
        cur = db.execute(
            f"SELECT {_COLS}, tokens, vector FROM passages WHERE kb = ? ORDER BY doc_id, start, id", (kb,)
        )
        for r in cur:
            i = len(stored)
            if matrix is None:
                matrix = np.empty((max(n, 1), len(r[13]) // 4), dtype=np.float32)
            elif i == matrix.shape[0]:  # a writer added rows between the count and the select
                matrix = np.concatenate([matrix, np.empty_like(matrix[: max(1, i // 8)])])
            stored.append(passage_from_row(kb, r[:12]))
            matrix[i] = np.frombuffer(r[13], dtype=np.float32)
            tokens.append(r[12])
            if len(tokens) == 20_000:
                lexical.add(tokens)
                tokens = []
    lexical.add(tokens)
    n = len(stored)
    if matrix is None:
        return _Loaded(gen, [], [], np.zeros((0, 0), dtype=np.float32), None, [], np.zeros(1, np.int64))
    matrix = matrix[:n]
    # Group rows by (motion, stance, lang), storage order kept within a group (lexsort is stable).
    codes = []
    for field_ in ("lang", "stance", "motion"):
        values = [getattr(p, field_) for p in stored]
        rank = {v: c for c, v in enumerate(sorted(set(values)))}
        codes.append(np.fromiter(map(rank.__getitem__, values), dtype=np.int64, count=n))
    order = np.lexsort(codes)
    if not np.array_equal(order, np.arange(n)):
        matrix = matrix[order]
    passages = [stored[i] for i in order]
    key = np.stack([c[order] for c in codes], axis=1)
    starts = np.flatnonzero(np.any(key[1:] != key[:-1], axis=1)) + 1
    bounds = np.concatenate([[0], starts, [n]]).astype(np.int64)
    groups = [(passages[b].motion, passages[b].stance, passages[b].lang) for b in bounds[:-1]]
    row_of = np.empty(n, dtype=np.int64)
    row_of[order] = np.arange(n)
    return _Loaded(gen, passages, stored, matrix, lexical.finish(row_of), groups, bounds)


class _BM25:
    """BM25 (Lucene variant, ``base.BM25_K1``/``BM25_B``) as bm25s computes it, score for score.

    Built with numpy from the token lists instead of bm25s's per-document Python loops, which at a
    million passages took minutes and over 10 GB. The precomputed per-(term, passage) scores are a
    CSC matrix; a query sums the columns of its terms (repeated terms count again, unknown ones
    are ignored), as ``bm25s.BM25.get_scores`` does.
    """

    k1 = BM25_K1
    b = BM25_B
    # bm25s cannot index a passage without tokens, so such a passage got this one token: kept, for
    # the same document lengths and hence the same scores.
    empty = "\x00"

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self._terms: list[np.ndarray] = []
        self._lengths: list[int] = []
        self._any_token = False

    def add(self, token_json: list[str]) -> None:
        """Add documents (JSON token lists), in order."""
        if not token_json:
            return
        docs = json.loads("[" + ",".join(token_json) + "]")  # one parse per batch, not per row
        self._any_token = self._any_token or any(docs)
        docs = [d or [self.empty] for d in docs]
        self._lengths.extend(map(len, docs))
        flat = list(itertools.chain.from_iterable(docs))
        vocab = self.vocab
        for t in set(flat).difference(vocab):
            vocab[t] = len(vocab)
        self._terms.append(np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat)))

    def finish(self, row_of: np.ndarray) -> _BM25 | None:
        """Compute the scores; the i-th added document becomes row ``row_of[i]``.

        None when no document has a token.
        """
        if not self._any_token:
            return None
        n, v = len(self._lengths), len(self.vocab)
        lens = np.array(self._lengths, dtype=np.int64)
        # One sort of (term, document) keys gives the matrix in CSC order and each term frequency.
        key = np.concatenate(self._terms)
        self._terms = []
        key *= n
        key += np.repeat(np.arange(n, dtype=np.int64), lens)
        key.sort()
        first = np.ones(key.size, dtype=bool)
        first[1:] = key[1:] != key[:-1]
        starts = np.flatnonzero(first)
        del first
        tf = np.diff(np.append(starts, key.size)).astype(np.float32)
        key = key[starts]
        del starts
        term = key // n
        doc = key - term * n
        del key
        df = np.bincount(term, minlength=v)
        # The same float32/float64 steps as bm25s (idf with math.log, float32 tf, float64 tfc).
        idf = np.zeros(v, dtype=np.float32)
        for t, f in enumerate(df.tolist()):
            if f:
                idf[t] = math.log(1 + (n - f + 0.5) / (f + 0.5))
        l_avg = lens.mean()
        tfc = tf / (self.k1 * ((1 - self.b) + self.b * lens[doc] / l_avg) + tf)
        self.data = (idf[term] * tfc).astype(np.float32)
        self.indices = row_of[doc].astype(np.int32)
        self.indptr = np.zeros(v + 1, dtype=np.int64)
        np.cumsum(df, out=self.indptr[1:])
        self.n = n
        self._lengths = []
        return self

    def scores(self, tokens: list[str]) -> np.ndarray:
        out = np.zeros(self.n, dtype=np.float32)
        for t in tokens:
            i = self.vocab.get(t)
            if i is not None:
                a, b = self.indptr[i], self.indptr[i + 1]
                np.add.at(out, self.indices[a:b], self.data[a:b])
        return out


def _dot(matrix: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``matrix @ q`` on one core (numpy's SIMD loop, not BLAS).

    OpenBLAS splits even a 10k-row product over both cores and busy-waits for them; when the cores
    are also serving the e5 or llama threads, or anything else, a 0.3 ms product took 12 ms and a
    100k one 24 ms at the median (benchmarks/retrieval_scale.py). One core is steady: 0.5 ms and
    10 ms idle, and a 1M-row product costs ~100 ms instead of ~60 ms on an idle machine.
    """
    return np.einsum("ij,j->i", matrix, q)


def _row(sel: _Selection, i: int) -> int:
    """Row number of the i-th row a selection allows."""
    if sel.rows is not None:
        return int(sel.rows[i])
    for a, b in sel.ranges:
        if i < b - a:
            return a + i
        i -= b - a
    raise IndexError(i)


def _best(
    passages: list[Passage], sel: _Selection, scores: np.ndarray, k: int, *, positive: bool
) -> list[tuple[Passage, float]]:
    """The k best of the allowed rows by score (only scores > 0 when ``positive``).

    Ties at the cut are settled by passage id, so the answer does not depend on row order.
    """

    def pid(i: int) -> str:
        return passages[_row(sel, i)].id

    if scores.size <= k:
        best = np.flatnonzero(scores > 0) if positive else np.arange(scores.size)
    else:
        part = np.argpartition(-scores, k - 1)[:k]
        kth = scores[part].min()
        above = part[scores[part] > kth]
        if positive and kth <= 0:
            best = above[scores[above] > 0]
        else:
            tied = np.flatnonzero(scores == kth)
            if above.size + tied.size > k:
                tied = np.array(sorted(tied.tolist(), key=pid)[: k - above.size], dtype=np.int64)
            best = np.concatenate([above, tied])
    return [(passages[_row(sel, int(i))], float(scores[i])) for i in best]
