"""The embedded default index: passages in one SQLite file, rankings computed in memory.

SQLite is the source of truth (transactional, survives crashes); on first search of a knowledge
base its passages are loaded once into a BM25 index (bm25s) and a float32 matrix for exact cosine
search, and rebuilt only when that knowledge base's generation counter moves.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from banron.domain import Passage
from banron.kb.index.base import Filters, KBInfo, StoredPassage
from banron.util import atomic_sqlite

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

_COLS = 'id, doc_id, text, title, source, lang, stance, motion, start, "end", page, section'


@dataclass
class _Loaded:
    generation: int
    passages: list[Passage]
    matrix: np.ndarray
    bm25: object | None  # bm25s.BM25, or None when no passage has a token
    motions: np.ndarray
    stances: np.ndarray
    langs: np.ndarray


class SQLiteIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
        finally:
            db.close()
        self._loaded: dict[str, _Loaded] = {}
        self._lock = threading.Lock()

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
                langs = dict(db.execute("SELECT lang, count(*) FROM passages WHERE kb = ? GROUP BY lang", (name,)))
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
        return _passage(kb, row) if row else None

    def _generation(self, kb: str) -> int:
        with self._read() as db:
            row = db.execute("SELECT generation FROM kbs WHERE name = ?", (kb,)).fetchone()
        if row is None:
            raise KeyError(f"no knowledge base named {kb!r}")
        return int(row[0])

    def _load(self, kb: str) -> _Loaded:
        gen = self._generation(kb)
        with self._lock:
            cached = self._loaded.get(kb)
            if cached is not None and cached.generation == gen:
                return cached
            passages: list[Passage] = []
            vectors: list[np.ndarray] = []
            corpus: list[list[str]] = []
            with self._read() as db:
                for row in db.execute(
                    f"SELECT {_COLS}, tokens, vector FROM passages WHERE kb = ? ORDER BY doc_id, start, id",
                    (kb,),
                ):
                    passages.append(_passage(kb, row[:12]))
                    corpus.append(json.loads(row[12]))
                    vectors.append(np.frombuffer(row[13], dtype=np.float32))
            dim = vectors[0].shape[0] if vectors else 0
            matrix = np.vstack(vectors) if vectors else np.zeros((0, dim), dtype=np.float32)
            bm25 = None
            if any(corpus):
                import bm25s

                bm25 = bm25s.BM25()
                # bm25s cannot index a document with no tokens; a sentinel keeps rows aligned.
                bm25.index([toks or ["\x00"] for toks in corpus], show_progress=False)
            loaded = _Loaded(
                gen,
                passages,
                matrix,
                bm25,
                np.array([p.motion for p in passages], dtype=object),
                np.array([p.stance for p in passages], dtype=object),
                np.array([p.lang for p in passages], dtype=object),
            )
            self._loaded[kb] = loaded
            return loaded

    def _mask(self, data: _Loaded, filters: Filters) -> np.ndarray:
        mask = np.ones(len(data.passages), dtype=bool)
        if filters.motion is not None:
            mask &= data.motions == filters.motion
        if filters.stances is not None:
            mask &= np.isin(data.stances, list(filters.stances))
        if filters.lang is not None:
            mask &= data.langs == filters.lang
        return mask

    def _top(
        self, kbs: Sequence[str], k: int, filters: Filters, scorer: str, query: object
    ) -> list[tuple[Passage, float]]:
        results: list[tuple[Passage, float]] = []
        for kb in kbs:
            data = self._load(kb)
            if not data.passages:
                continue
            if scorer == "dense":
                scores = data.matrix @ np.asarray(query, dtype=np.float32)
            else:
                if data.bm25 is None:
                    continue
                scores = np.asarray(data.bm25.get_scores(query), dtype=np.float32)  # type: ignore[attr-defined]
            mask = self._mask(data, filters)
            if scorer == "lexical":
                mask &= scores > 0  # a passage sharing no term with the query is not a lexical hit
            idx = np.flatnonzero(mask)
            if idx.size == 0:
                continue
            take = min(k, idx.size)
            best = idx[np.argpartition(-scores[idx], take - 1)[:take]]
            results.extend((data.passages[i], float(scores[i])) for i in best)
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

    def all_passages(self, kb: str) -> list[Passage]:
        return list(self._load(kb).passages)

    def stance_counts(self, kb: str, motion: str | None = None) -> Counter[str]:
        data = self._load(kb)
        return Counter(p.stance for p in data.passages if motion is None or p.motion == motion)


def _passage(kb: str, row: Sequence[object]) -> Passage:
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
