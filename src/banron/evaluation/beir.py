"""Retrieval evaluation on a BEIR-layout dataset, through banron's own index and retriever.

Layout read (as published by BEIR)::

    DIR/corpus.jsonl[.gz]   {"_id", "title", "text", "stance"?: pro|con|neutral, "motion"?}
    DIR/queries.jsonl       {"_id", "text", "side"?: pro|con, "motion"?}
    DIR/qrels/test.tsv      header line, then "query-id<TAB>corpus-id<TAB>score" (graded)

``stance``/``motion``/``side`` may also sit inside a line's ``metadata`` object. Only queries that
appear in the qrels are evaluated.

The corpus is ingested with the production ``Ingestor`` into a ``SQLiteIndex`` kept under
``cache_dir/eval/<key of the corpus file>``, reused while the file, the tokenizer's behaviour and
the chunking settings are unchanged; vectors go through the shared embedding cache, so even a
rebuild costs no re-embedding. Each corpus document is one passage whose id is its ``_id`` (the
title, when there is one, is prepended to the text as BEIR's dense baselines do); a document
longer than the chunk limit is split and scored by its best chunk.

Searching goes through ``Retriever`` exactly as banron searches: ``lexical``, ``dense``,
``hybrid`` and, when documents carry stance+motion and queries side+motion, ``hybrid+stance``
(``Retriever.counter_evidence``: passages of the other side of the motion first).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from banron.config import Settings
from banron.domain import Hit
from banron.evaluation.metrics import METRICS, evaluate
from banron.kb.embed import Embedder
from banron.kb.index.sqlite import SQLiteIndex
from banron.kb.ingest import Ingestor
from banron.kb.loaders import Document
from banron.kb.search import Retriever
from banron.kb.tokenize import LexicalTokenizer
from banron.runtime import Runtime
from banron.util import atomic_write_text

BASE_MODES = ("lexical", "dense", "hybrid")
STANCE_MODE = "hybrid+stance"
ALL_MODES = (*BASE_MODES, STANCE_MODE)
DEPTH = 100  # the deepest cut of any metric (Recall@100)
SHOWN = 10  # the cut of nDCG@10, Recall@10 and MRR@10: what a search for 10 returns

_STANCES = ("pro", "con", "neutral")
_SIDES = ("pro", "con")
# Probe text whose tokens fingerprint the lexical tokenizer's behaviour (stemming, stopwords,
# Korean morphology), so an index built by an older tokenizer is never reused.
_PROBE = (
    "The students were banned from using phones; studies argued restrictions improve concentration "
    "and happiness. 학생들은 숙제를 줄여야 한다고 주장했다."
)


class BeirError(Exception):
    """The dataset cannot be read. ``str(err)`` names the file and, when known, the line."""


@dataclass(frozen=True)
class CorpusDoc:
    id: str
    text: str
    title: str = ""
    stance: str = "neutral"
    motion: str = ""


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    side: str = ""
    motion: str = ""


@dataclass
class BeirDataset:
    name: str
    root: Path
    corpus_path: Path
    corpus: list[CorpusDoc]
    queries: list[Query]  # only those judged in the qrels, in qrels order
    qrels: dict[str, dict[str, int]]

    @property
    def has_stance(self) -> bool:
        """Documents carry stance+motion and every evaluated query carries side+motion."""
        docs = any(d.stance in _SIDES and d.motion for d in self.corpus)
        return docs and bool(self.queries) and all(q.side and q.motion for q in self.queries)


# -- reading ------------------------------------------------------------------------------------
def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with _open_text(path) as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise BeirError(f"{path}: line {lineno}: invalid JSON: {e.msg}") from None
                if not isinstance(obj, dict):
                    raise BeirError(f"{path}: line {lineno}: expected a JSON object")
                yield lineno, obj
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise BeirError(f"{path}: cannot read: {e}") from None


def _field(obj: dict[str, Any], name: str) -> str:
    """A string field from the line itself or from its BEIR ``metadata`` object."""
    value = obj.get(name)
    if value is None and isinstance(obj.get("metadata"), dict):
        value = obj["metadata"].get(name)
    if value is None:
        return ""
    return unicodedata.normalize("NFC", str(value)).strip()


def _id(path: Path, lineno: int, obj: dict[str, Any]) -> str:
    raw = obj.get("_id")
    if raw is None or not str(raw).strip():
        raise BeirError(f"{path}: line {lineno}: missing '_id'")
    return str(raw).strip()


def _corpus_file(root: Path) -> Path:
    for name in ("corpus.jsonl", "corpus.jsonl.gz"):
        if (root / name).is_file():
            return root / name
    raise BeirError(f"{root / 'corpus.jsonl'}: no such file (nor corpus.jsonl.gz)")


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    if not path.is_file():
        raise BeirError(f"{path}: no such file (qrels are required: query-id, corpus-id, score)")
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            parts = line.rstrip("\n").split("\t")
            if not line.strip() or (
                lineno == 1 and parts[0].strip().lower() in ("query-id", "query_id", "qid")
            ):
                continue
            if len(parts) < 3:
                raise BeirError(f"{path}: line {lineno}: expected query-id, corpus-id and score")
            try:
                score = int(float(parts[2]))
            except ValueError:
                raise BeirError(f"{path}: line {lineno}: score {parts[2]!r} is not a number") from None
            qrels.setdefault(parts[0].strip(), {})[parts[1].strip()] = score
    if not qrels:
        raise BeirError(f"{path}: no judgements")
    return qrels


def load_beir(root: Path, *, limit_queries: int | None = None, name: str | None = None) -> BeirDataset:
    """Read a BEIR-layout folder; ``limit_queries`` keeps the first N judged queries."""
    root = Path(root)
    if not root.is_dir():
        raise BeirError(f"{root}: no such directory")
    qrels = read_qrels(root / "qrels" / "test.tsv")
    corpus_path = _corpus_file(root)
    corpus: list[CorpusDoc] = []
    seen: set[str] = set()
    for lineno, obj in _jsonl(corpus_path):
        doc_id = _id(corpus_path, lineno, obj)
        if doc_id in seen:
            raise BeirError(f"{corpus_path}: line {lineno}: duplicate _id {doc_id!r}")
        seen.add(doc_id)
        stance = _field(obj, "stance").lower() or "neutral"
        if stance not in _STANCES:
            raise BeirError(
                f"{corpus_path}: line {lineno}: stance must be pro, con or neutral, got {stance!r}"
            )
        text, title = _field(obj, "text"), _field(obj, "title")
        if not (text or title):
            continue  # nothing to retrieve; it simply can never be found, as in BEIR
        corpus.append(CorpusDoc(doc_id, text, title, stance, _field(obj, "motion")))
    if not corpus:
        raise BeirError(f"{corpus_path}: no documents")

    queries_path = root / "queries.jsonl"
    if not queries_path.is_file():
        raise BeirError(f"{queries_path}: no such file")
    by_id: dict[str, Query] = {}
    for lineno, obj in _jsonl(queries_path):
        qid = _id(queries_path, lineno, obj)
        if qid not in qrels:
            continue
        side = _field(obj, "side").lower()
        if side and side not in _SIDES:
            raise BeirError(f"{queries_path}: line {lineno}: side must be pro or con, got {side!r}")
        by_id[qid] = Query(qid, _field(obj, "text"), side, _field(obj, "motion"))
    missing = [qid for qid in qrels if qid not in by_id]
    if missing:
        raise BeirError(f"{queries_path}: {len(missing)} judged queries are missing (first: {missing[0]!r})")
    queries = [by_id[qid] for qid in qrels]
    if limit_queries is not None:
        queries = queries[: max(limit_queries, 0)]
    kept = {q.id for q in queries}
    return BeirDataset(
        name=name or f"{root.resolve().parent.name}/{root.resolve().name}",
        root=root,
        corpus_path=corpus_path,
        corpus=corpus,
        queries=queries,
        qrels={qid: judged for qid, judged in qrels.items() if qid in kept},
    )


def passage_text(doc: CorpusDoc) -> str:
    """What is indexed for a document: ``title. text`` (BEIR's dense baselines embed both)."""
    if not doc.title:
        return doc.text
    if not doc.text:
        return doc.title
    sep = " " if doc.title[-1] in ".!?…" else ". "
    return f"{doc.title}{sep}{doc.text}"


# -- indexing -----------------------------------------------------------------------------------
@dataclass
class BuiltIndex:
    index: SQLiteIndex
    kb: str
    documents: int
    passages: int
    seconds: float  # wall time spent building in this run (0 when reused)
    reused: bool


def corpus_key(path: Path) -> str:
    """sha256 of the corpus file's resolved path, size and mtime."""
    st = path.stat()
    raw = f"{path.resolve()}\x1f{st.st_size}\x1f{st.st_mtime_ns}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def tokenizer_fingerprint(tokenizer: LexicalTokenizer) -> str:
    raw = tokenizer.name + "\x1f" + "\x1f".join(tokenizer.tokens(_PROBE))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:8]


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def build_index(
    dataset: BeirDataset,
    rt: Runtime,
    *,
    processes: int,
    chunk_tokens: int,
    console: Console,
) -> BuiltIndex:
    """Ingest the corpus into its evaluation index, or reuse the one already built."""
    settings = rt.settings
    folder = settings.cache_dir / "eval" / corpus_key(dataset.corpus_path)
    index = SQLiteIndex(folder / "index.sqlite")
    kb = (
        f"{rt.tokenizer.name}-{tokenizer_fingerprint(rt.tokenizer)}"
        f"-c{chunk_tokens}-o{settings.kb.overlap_sentences}-{rt.embedder.name}"
    )
    builds_file = folder / "builds.json"
    builds: dict[str, Any] = json.loads(builds_file.read_text()) if builds_file.is_file() else {}
    done = builds.get(kb)
    if done and done.get("documents") == len(dataset.corpus) and index.has_kb(kb):
        return BuiltIndex(index, kb, done["documents"], done["passages"], 0.0, True)
    docs = [
        Document(
            doc_id=d.id,
            text=passage_text(d),
            source=dataset.corpus_path.name,  # lang is left to the ingestor's detection
            stance=d.stance,
            motion=d.motion,
            passage_id=d.id,
        )
        for d in dataset.corpus
    ]
    ingestor = Ingestor(
        index,
        rt.embedder,
        rt.tokenizer,
        rt.cache,
        chunk_tokens=chunk_tokens,
        overlap_sentences=settings.kb.overlap_sentences,
        processes=processes,
    )
    started = time.perf_counter()
    with _progress(console) as bar:
        task = bar.add_task(f"indexing {dataset.name} (embedding)", total=None)
        ingestor.add_documents(
            kb,
            docs,
            progress=lambda n: bar.advance(task, n),
            on_total=lambda n: bar.update(task, total=n),
        )
    seconds = time.perf_counter() - started
    passages = index.count(kb)
    builds[kb] = {"documents": len(docs), "passages": passages, "seconds": round(seconds, 1)}
    atomic_write_text(builds_file, json.dumps(builds, indent=2))
    return BuiltIndex(index, kb, len(docs), passages, seconds, False)


# -- searching ----------------------------------------------------------------------------------
class QueryMemo:
    """An ``Embedder`` wrapper that embeds each query text once per run and charges its cost again.

    Several modes (dense, hybrid, hybrid+stance, which may search twice per query) embed the same
    query. The first embedding is timed and memoised; each later use adds that measured time to
    ``charged``, so a mode's queries/s is what it would be with fresh embeddings, while the
    evaluation embeds every query only once.
    """

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.max_tokens = inner.max_tokens
        self.cross_lingual_gap = float(getattr(inner, "cross_lingual_gap", 0.0))
        self.charged = 0.0
        self._memo: dict[tuple[str, str], tuple[np.ndarray, float]] = {}

    def _cached(self, kind: str, text: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        hit = self._memo.get((kind, text))
        if hit is not None:
            self.charged += hit[1]
            return hit[0]
        started = time.perf_counter()
        vector = compute()
        self._memo[(kind, text)] = (vector, time.perf_counter() - started)
        return vector

    def query(self, text: str) -> np.ndarray:
        return self._cached("query", text, lambda: self.inner.query(text))

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:
            return self.inner.passages(texts)
        return self._cached("passage", texts[0], lambda: self.inner.passages(texts))

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


@dataclass
class ModeResult:
    metrics: dict[str, float]
    seconds: float
    queries: int

    @property
    def qps(self) -> float:
        return self.queries / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class EvalReport:
    dataset: str
    corpus: int
    queries: int
    index: BuiltIndex
    modes: dict[str, ModeResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)  # what the numbers depend on

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "corpus": self.corpus,
            "queries": self.queries,
            "modes": {
                mode: {**{k: round(v, 4) for k, v in r.metrics.items()}, "qps": round(r.qps, 2)}
                for mode, r in self.modes.items()
            },
            "index": {
                "passages": self.index.passages,
                "build_seconds": round(self.index.seconds, 1),
                "reused": self.index.reused,
            },
            "settings": self.settings,
        }


def _doc_ranking(hits: Sequence[Hit], query_id: str, ignore_identical_ids: bool) -> list[str]:
    """Passages -> documents (best chunk first), dropping the query itself when asked."""
    out: list[str] = []
    seen: set[str] = set()
    for h in hits:
        doc = h.passage.doc_id or h.passage.id
        if doc in seen or (ignore_identical_ids and doc == query_id):
            continue
        seen.add(doc)
        out.append(doc)
    return out


def search_mode(
    retriever: Retriever,
    built: BuiltIndex,
    dataset: BeirDataset,
    mode: str,
    *,
    ignore_identical_ids: bool,
    memo: QueryMemo | None = None,
    on_query: Callable[[], None] | None = None,
) -> tuple[dict[str, list[str]], float]:
    """Rankings of the top ``DEPTH`` documents per query, and the seconds spent searching.

    Ranks 1 to ``SHOWN`` come from a search for ``SHOWN``, as a debate runs it: hybrid fusion
    reads ``candidates`` passages of each list whatever the top k, and fusing deeper lists moves
    passages, so the @10 metrics measure what a student sees. The ranks after them (for
    Recall@100) come from a search for ``DEPTH``; only the first search is timed.
    """
    kbs = [built.kb]

    def run(q: Query, top_k: int) -> list[Hit]:
        if mode == STANCE_MODE:
            return retriever.counter_evidence(q.text, kbs, against_side=q.side, motion=q.motion, top_k=top_k)
        return retriever.search(q.text, kbs, top_k=top_k, mode=mode)  # type: ignore[arg-type]

    def top(q: Query, depth: int) -> list[str]:
        need = depth + (1 if ignore_identical_ids else 0)
        # Chunked documents occupy several ranks; fetch enough passages for `depth` documents.
        fetch = need + min(built.passages - built.documents, need)
        while True:
            hits = run(q, fetch)
            ranking = _doc_ranking(hits, q.id, ignore_identical_ids)
            if len(ranking) >= depth or len(hits) < fetch or fetch >= built.passages:
                return ranking[:depth]
            fetch *= 2

    rankings: dict[str, list[str]] = {}
    seconds = 0.0
    for q in dataset.queries:
        charged_before = memo.charged if memo else 0.0
        started = time.perf_counter()
        shown = top(q, SHOWN)
        seconds += time.perf_counter() - started + ((memo.charged - charged_before) if memo else 0.0)
        deeper = [doc for doc in top(q, DEPTH) if doc not in shown]
        rankings[q.id] = (shown + deeper)[:DEPTH]
        if on_query:
            on_query()
    return rankings, seconds


def resolve_modes(requested: Sequence[str], dataset: BeirDataset) -> tuple[list[str], list[str]]:
    """The modes to run, and notes on the ones skipped. Raises ``BeirError`` on unknown modes."""
    notes: list[str] = []
    modes: list[str] = []
    for m in requested:
        if m == "all":
            modes.extend(x for x in BASE_MODES if x not in modes)
            if dataset.has_stance:
                modes.extend(x for x in (STANCE_MODE,) if x not in modes)
            else:
                notes.append(
                    f"{STANCE_MODE} skipped: needs stance+motion on documents, side+motion on queries"
                )
        elif m in ALL_MODES:
            if m == STANCE_MODE and not dataset.has_stance:
                raise BeirError(
                    f"{dataset.root}: mode {STANCE_MODE} needs stance+motion on corpus documents and "
                    "side+motion on every evaluated query"
                )
            if m not in modes:
                modes.append(m)
        else:
            raise BeirError(f"unknown mode {m!r}; choose from {', '.join((*ALL_MODES, 'all'))}")
    return modes, notes


def evaluate_retrieval(
    dataset: BeirDataset,
    *,
    modes: Sequence[str] = ("all",),
    settings: Settings | None = None,
    processes: int | None = None,
    chunk_tokens: int | None = None,
    ignore_identical_ids: bool = False,
    console: Console | None = None,
) -> EvalReport:
    """Index the corpus (or reuse its index), search every query in every mode, score.

    ``console`` receives the progress bars (stderr by default). ``chunk_tokens`` defaults to the
    embedder's limit, so a document is chunked only when it would not fit whole.
    """
    console = console or Console(stderr=True)
    rt = Runtime(settings) if settings is not None else Runtime()
    chosen, notes = resolve_modes(modes, dataset)
    chunk_tokens = chunk_tokens or rt.embedder.max_tokens
    built = build_index(
        dataset, rt, processes=processes or os.cpu_count() or 1, chunk_tokens=chunk_tokens, console=console
    )
    memo = QueryMemo(rt.embedder)
    retriever = Retriever(built.index, memo, rt.tokenizer, rt.settings.kb)
    # Load the index into memory and the model's weights before any timing.
    retriever.search("warm-up", [built.kb], top_k=1, mode="lexical")
    rt.embedder.query("warm-up")
    kb = rt.settings.kb
    report = EvalReport(
        dataset.name,
        len(dataset.corpus),
        len(dataset.queries),
        built,
        notes=notes,
        settings={
            "embedder": rt.embedder.name,
            "tokenizer": rt.tokenizer.name,
            "chunk_tokens": chunk_tokens,
            "rrf_k": kb.rrf_k,
            "lexical_weight": kb.lexical_weight,
            "dense_weight": kb.dense_weight,
            "candidates": kb.candidates,
            "ignore_identical_ids": ignore_identical_ids,
        },
    )
    with _progress(console) as bar:
        for mode in chosen:
            task = bar.add_task(f"searching ({mode})", total=len(dataset.queries))
            rankings, seconds = search_mode(
                retriever,
                built,
                dataset,
                mode,
                ignore_identical_ids=ignore_identical_ids,
                memo=memo,
                on_query=partial(bar.advance, task),
            )
            report.modes[mode] = ModeResult(evaluate(rankings, dataset.qrels), seconds, len(dataset.queries))
    return report


def render(report: EvalReport) -> Table:
    idx = report.index
    built = "reused" if idx.reused else f"built in {idx.seconds:.1f} s"
    table = Table(
        "mode",
        *METRICS,
        "queries/s",
        title=f"{report.dataset}: {report.corpus} documents ({idx.passages} passages), "
        f"{report.queries} queries; index {built}",
    )
    for mode, r in report.modes.items():
        table.add_row(mode, *(f"{r.metrics[m]:.4f}" for m in METRICS), f"{r.qps:.1f}")
    return table


def write_json(report: EvalReport, path: Path) -> None:
    atomic_write_text(Path(path), json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n")
