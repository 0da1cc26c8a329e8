"""The scale-out index: passages in PostgreSQL, dense search by pgvector HNSW, BM25 computed in SQL.

``PostgresIndex(url)`` implements the same ``SearchIndex`` protocol as ``SQLiteIndex`` and passes
the same contract tests (``tests/kb/index/``). Unlike the SQLite index it keeps nothing in memory:
every search is answered by the server, so any number of stateless workers can share one database.

Layout (all tables in one PostgreSQL schema, ``banron_kb`` by default):

* ``kbs``: one row per knowledge base with its BM25 statistics (passage count, total document
  length) and a generation counter bumped by every write, as in the SQLite index;
* ``documents`` and ``passages``: the passages with their labels, their lexical tokens (``text[]``,
  exactly the tokenizer's output) and their vector (``vector``, any dimension, with ``dim`` beside
  it); an HNSW index (cosine) per dimension, ``((embedding::vector(d)) vector_cosine_ops) WHERE
  dim = d``, created with the first passage of that dimension;
* ``lex_terms``, ``lex_df``, ``lex_postings``: an inverted index over the same tokens. A posting
  holds the term frequency and the passage's length, and the passage's label group (its (motion,
  stance, lang), numbered in ``label_groups``). Its primary key (kb, term, group, passage) lets a
  filtered search read only the postings of the allowed groups, and finds one passage's posting
  of a term; a second index, (kb, term, tf / length descending), has each term's postings in
  impact order (migration m003). ``lex_df`` holds each term's document frequency (m002 added each
  term's largest tf and shortest passage, the bounds of the tf-ordered cut of before m003; unread
  since, m004 dropped them).

Lexical ranking is BM25 (Lucene variant, ``base.BM25_K1``/``BM25_B``, so b = 1) with the idf
from ``lex_df`` and the average length from ``kbs``: the same formula, and so the same scores, as
the SQLite index's
(bm25s's). PostgreSQL full-text search was the alternative, but ``ts_rank`` has no idf (a rare word
counts no more than a common one) and ``simple``-config parsing would re-split the tokens; the
postings table keeps mecab's morphemes exactly and ranks them like the embedded index does.

Two ways to the top k, chosen per knowledge base and query by the query terms' total postings:

* up to ``lexical_exact_below`` (30,000; for a filtered search 200,000 in its allowed groups),
  one SQL aggregate sums every posting of every query term: exact, as the SQLite index;
* beyond that, ``_lexical_capped``: a term with more than 15,000 postings is read only down to its
  5,000th in impact order (density, tf / length, descending: with b = 1 a posting's BM25 part is
  a rising function of its density alone, whatever the average length, so these are exactly its
  best, and whatever lies below the cut scores at most the cut posting's part); shorter lists
  are read whole. The 1,000 passages with the highest
  bound (what was read for them plus that cut bound of each long term not read for them) get
  their missing terms by primary-key lookups, the heavier terms first (a passage that can no
  longer reach the top k skips the rest), and the top k by these exact BM25 scores are returned.
  The work per query is bounded (5,000 postings a term, 1,000 passages' lookups) whatever the
  corpus size, and every returned score is exact, but the set is approximate: a passage can be
  missed if it is below the cut of every long list it is in and has no rarer term, or if 1,000
  others have a higher bound. ``benchmarks/retrieval_scale.py`` measures the agreement with exact
  BM25 (recall@10 0.935 at 1M; see docs/reliability.md). When the cut
  bounds add up to less than the k-th best score and at most 1,000 passages qualify, the top k is
  provably exact.

Migrations m002 (bounds, dropped again by m004) and m003 (the density index, replacing m002's
tf-ordered one) run in their migration's transaction: on an existing index of millions of passages
they take minutes, during which writes wait. m004 only drops columns (no rewrite), but a worker
still running the code of before it fails its writes once it has run, as they set those columns.

Every write runs in one transaction, so a failed ingest leaves nothing half-written; the schema is
created by named, append-only migrations recorded in ``_migrations``, under an advisory lock so
workers starting together do not race.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from banron.domain import STANCES, Passage, Stance
from banron.kb.index.base import BM25_B, BM25_K1, Filters, KBInfo, StoredPassage, passage_from_row
from banron.kb.index.maintenance import DocumentInfo, passage_fingerprint

try:
    import psycopg
    from pgvector.psycopg import register_vector
    from psycopg import sql
    from psycopg_pool import ConnectionPool

    from banron.pg import Connection, DatabaseUnavailable, PgMigration, migrate, no_nul
except ImportError as e:  # pragma: no cover - depends on the optional extra
    raise ImportError(
        "the PostgreSQL index needs psycopg, psycopg-pool and pgvector: pip install 'banron[postgres]'"
    ) from e

__all__ = ["MIGRATIONS", "DatabaseUnavailable", "PostgresIndex"]

K1, B = BM25_K1, BM25_B  # the SQLite index's too
# The capped lexical path reads postings in density order, which is BM25's impact order only when
# b = 1 (a posting's part is then a function of tf / length alone).
assert B == 1.0, "_lexical_capped's density order needs b = 1"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS kbs (
    id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    generation bigint NOT NULL DEFAULT 0,
    passages bigint NOT NULL DEFAULT 0,
    token_total bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS documents (
    kb_id integer NOT NULL REFERENCES kbs(id) ON DELETE CASCADE,
    doc_id text NOT NULL,
    content_hash text NOT NULL,
    source text NOT NULL DEFAULT '',
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kb_id, doc_id)
);
CREATE INDEX IF NOT EXISTS documents_source ON documents (kb_id, source);
CREATE TABLE IF NOT EXISTS label_groups (
    id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    motion text NOT NULL,
    stance text NOT NULL,
    lang text NOT NULL,
    UNIQUE (motion, stance, lang)
);
CREATE TABLE IF NOT EXISTS passages (
    pid bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    kb_id integer NOT NULL,
    id text NOT NULL,
    doc_id text NOT NULL,
    text text NOT NULL,
    title text NOT NULL DEFAULT '',
    source text NOT NULL DEFAULT '',
    lang text NOT NULL DEFAULT '',
    stance text NOT NULL DEFAULT 'neutral',
    motion text NOT NULL DEFAULT '',
    start integer NOT NULL DEFAULT 0,
    "end" integer NOT NULL DEFAULT 0,
    page integer,
    section text NOT NULL DEFAULT '',
    grp integer NOT NULL REFERENCES label_groups(id),
    tokens text[] NOT NULL,
    length integer NOT NULL,
    dim integer NOT NULL,
    embedding vector NOT NULL,
    UNIQUE (kb_id, id),
    FOREIGN KEY (kb_id, doc_id) REFERENCES documents(kb_id, doc_id) ON DELETE CASCADE
);
-- Vectors stay in the row (a 384-float vector is 1.5 kB: with the text, rows pass the 2 kB
-- TOAST threshold and the vector would go out of line, a TOAST fetch per distance).
ALTER TABLE passages ALTER COLUMN embedding SET STORAGE PLAIN;
CREATE INDEX IF NOT EXISTS passages_doc ON passages (kb_id, doc_id);
CREATE INDEX IF NOT EXISTS passages_group ON passages (kb_id, grp);
CREATE TABLE IF NOT EXISTS group_sizes (
    kb_id integer NOT NULL,
    grp integer NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (kb_id, grp)
);
CREATE TABLE IF NOT EXISTS lex_terms (
    id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    term text NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS lex_df (
    kb_id integer NOT NULL,
    term_id integer NOT NULL,
    df integer NOT NULL,
    PRIMARY KEY (kb_id, term_id)
);
CREATE TABLE IF NOT EXISTS lex_postings (
    kb_id integer NOT NULL,
    term_id integer NOT NULL,
    grp integer NOT NULL,
    pid bigint NOT NULL,
    tf integer NOT NULL,
    length integer NOT NULL,
    PRIMARY KEY (kb_id, term_id, grp, pid) INCLUDE (tf, length)
)
"""


def _m001_kb_schema(db: Connection) -> None:
    # In public (not the index's schema), where other schemas' tables can find the type too.
    db.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


def _m002_lex_term_bounds(db: Connection) -> None:
    """Per (knowledge base, term): the largest term frequency and the shortest passage among its
    postings (what a search cutting the term's list short bounds the unread part with), and an
    index with each term's postings in impact order (tf descending, then length)."""
    db.execute(
        "ALTER TABLE lex_df ADD COLUMN IF NOT EXISTS max_tf integer,"
        " ADD COLUMN IF NOT EXISTS min_length integer"
    )
    db.execute(
        "UPDATE lex_df d SET max_tf = s.max_tf, min_length = s.min_length"
        " FROM (SELECT kb_id, term_id, max(tf) AS max_tf, min(length) AS min_length"
        "  FROM lex_postings GROUP BY kb_id, term_id) s"
        " WHERE d.kb_id = s.kb_id AND d.term_id = s.term_id"
    )
    # Postings by term, then tf, then length: those of a term whose BM25 part reaches a threshold
    # are, for every average length, one index range per tf value.
    db.execute(
        "CREATE INDEX IF NOT EXISTS lex_postings_impact ON lex_postings"
        " (kb_id, term_id, tf DESC, length) INCLUDE (grp, pid)"
    )


def _m003_lex_density_order(db: Connection) -> None:
    """Each term's postings by density (tf / length, descending), the exact impact order under
    b = 1 (see ``_lexical_capped``); it replaces m002's (tf, length) order."""
    db.execute(
        "CREATE INDEX IF NOT EXISTS lex_postings_density ON lex_postings"
        " (kb_id, term_id, (tf::float8 / length) DESC) INCLUDE (grp, pid, tf, length)"
    )
    db.execute("DROP INDEX IF EXISTS lex_postings_impact")


def _m004_drop_lex_term_bounds(db: Connection) -> None:
    """Drops m002's per-term bounds (largest tf, shortest passage): m003's density order bounds a
    cut list by its cut posting, and nothing has read them since; writes kept them up for nothing.
    A metadata-only change in PostgreSQL (no table rewrite)."""
    db.execute("ALTER TABLE lex_df DROP COLUMN IF EXISTS max_tf, DROP COLUMN IF EXISTS min_length")


# Named, append-only: never edit or reorder an entry; add a new one.
MIGRATIONS: list[PgMigration] = [
    ("m001_kb_schema", _m001_kb_schema),
    ("m002_lex_term_bounds", _m002_lex_term_bounds),
    ("m003_lex_density_order", _m003_lex_density_order),
    ("m004_drop_lex_term_bounds", _m004_drop_lex_term_bounds),
]

_COLS = 'id, doc_id, text, title, source, lang, stance, motion, start, "end", page, section'
# Storage order, as the SQLite index keeps it: documents by id (bytewise), then position.
_STORAGE_ORDER = 'doc_id COLLATE "C", start, id COLLATE "C"'
# Binary COPY types of (pid, kb_id, _COLS..., grp, tokens, length, dim, embedding).
_PASSAGE_TYPES = ["int8", "int4", "text", "text", "text", "text", "text", "text", "text", "text"]
_PASSAGE_TYPES += ["int4", "int4", "int4", "text", "int4", "text[]", "int4", "int4", "vector"]
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresIndex:
    """A ``SearchIndex`` on a PostgreSQL database with the pgvector extension.

    ``url`` is a libpq connection string or URI. ``schema`` holds the index's tables (created on
    first use). ``ef_search`` is HNSW's candidate list size per query: higher is slower and closer
    to exact (iterative scans keep a filtered search from coming back short). With
    ``auto_index=False`` writes skip creating the HNSW index of a new dimension, for bulk loads
    that call ``build_vector_indexes()`` once at the end (much faster than growing the graph).
    A dense search that may return at most ``exact_below`` passages compares them all instead.
    A lexical search whose query terms have at most ``lexical_exact_below`` postings in all
    (``lexical_exact_below_filtered`` in its allowed groups, estimated, for a filtered one: reading
    only some groups' postings is cheap by primary key, not in the impact index's order) sums them
    all in one aggregate: exact BM25. Longer lists are read only in part (``_lexical_capped``).
    """

    # Searches may run at once on the pool's connections: a hybrid search's lexical and dense
    # halves run side by side (``Retriever.search``).
    concurrent_reads = True

    def __init__(
        self,
        url: str,
        *,
        schema: str = "banron_kb",
        ef_search: int = 100,
        pool_size: int = 8,
        auto_index: bool = True,
        connect_timeout: float = 10.0,
        exact_below: int = 20_000,
        lexical_exact_below: int = 30_000,
        lexical_exact_below_filtered: int = 200_000,
    ) -> None:
        if not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"schema must be a lower-case SQL identifier, not {schema!r}")
        self.schema = schema
        self.ef_search = int(ef_search)
        self.auto_index = auto_index
        self.exact_below = exact_below
        self.lexical_exact_below = lexical_exact_below
        self.lexical_exact_below_filtered = lexical_exact_below_filtered
        self._url = url
        self._indexed_dims: set[int] = set()
        self._dims_lock = threading.Lock()
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=int(connect_timeout)) as db:
                migrate(db, schema, MIGRATIONS)
        except psycopg.OperationalError as e:
            raise DatabaseUnavailable(f"cannot open the knowledge-base database: {e}".strip()) from e
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True},
            configure=self._configure,
            open=False,
            name=f"banron-kb-{schema}",
        )
        self._pool.open(wait=True, timeout=connect_timeout)

    def _configure(self, db: Connection) -> None:
        db.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(self.schema)))
        register_vector(db)
        # Placeholders until the vector library loads; it picks the values up then.
        db.execute(sql.SQL("SET hnsw.ef_search = {}").format(sql.Literal(self.ef_search)))
        # Relaxed order: a filtered walk may hand back neighbours slightly out of order, which
        # costs nothing here (dense() sorts what comes back) and was faster and closer to exact
        # than strict order at 1M chunks (filtered: 40 / 61 ms p50 / p95 and recall@10 0.91,
        # against 46 / 100 ms and 0.87).
        db.execute("SET hnsw.iterative_scan = relaxed_order")

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> PostgresIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never the URL: it may carry a password
        return f"PostgresIndex(schema={self.schema!r})"

    @contextmanager
    def _conn(self) -> Iterator[Connection]:
        with self._pool.connection() as db:
            yield db

    @contextmanager
    def _write(self) -> Iterator[psycopg.Cursor[Any]]:
        """One transaction: everything in it is committed together or rolled back."""
        with self._pool.connection() as db, db.transaction(), db.cursor() as cur:
            yield cur

    # -- writing -----------------------------------------------------------------------------
    def ensure_kb(self, kb: str) -> None:
        with self._write() as cur:
            _create_kb(cur, kb)

    def replace_document(
        self, kb: str, doc_id: str, content_hash: str, source: str, items: Sequence[StoredPassage]
    ) -> None:
        """Atomically replace a document's passages (insert when new).

        A passage id already used by another document of ``kb`` moves to this one, and of two
        items with the same id the last wins, as in the SQLite index.
        """
        doc_id = no_nul(doc_id)
        latest = {no_nul(it.passage.id): it for it in items}  # the last of equal ids wins
        items = list(latest.values())
        with self._write() as cur:
            kb_id = _create_kb(cur, kb, lock=True)
            old = cur.execute(
                "SELECT pid, grp, tokens, length FROM passages"
                " WHERE kb_id = %s AND (doc_id = %s OR id = ANY(%s))",
                (kb_id, doc_id, list(latest)),
            ).fetchall()
            _remove_passages(cur, kb_id, old)
            cur.execute("DELETE FROM documents WHERE kb_id = %s AND doc_id = %s", (kb_id, doc_id))
            cur.execute(
                "INSERT INTO documents (kb_id, doc_id, content_hash, source) VALUES (%s, %s, %s, %s)",
                (kb_id, no_nul(doc_id), content_hash, no_nul(source)),
            )
            if items:
                self._insert(cur, kb_id, doc_id, items)
            cur.execute("UPDATE kbs SET generation = generation + 1 WHERE id = %s", (kb_id,))

    def _insert(
        self, cur: psycopg.Cursor[Any], kb_id: int, doc_id: str, items: Sequence[StoredPassage]
    ) -> None:
        # Tokens are read here, inside the transaction: whatever fails from now on undoes the
        # removal of the old passages too.
        counts = [Counter(no_nul(t) for t in it.tokens) for it in items]
        groups = _group_ids(cur, {(it.passage.motion, it.passage.stance, it.passage.lang) for it in items})
        term_ids = _term_ids(cur, set().union(*counts))
        pids = [
            r[0]
            for r in cur.execute(
                "SELECT nextval(pg_get_serial_sequence('passages', 'pid')) FROM generate_series(1, %s)",
                (len(items),),
            )
        ]
        vectors = [np.asarray(it.vector, dtype=np.float32) for it in items]
        for dim in {v.shape[0] for v in vectors}:
            if self.auto_index:
                self._ensure_vector_index(cur, dim)
        lengths = [max(sum(c.values()), 1) for c in counts]  # bm25s gives an empty passage length 1
        with cur.copy(
            f"COPY passages (pid, kb_id, {_COLS}, grp, tokens, length, dim, embedding)"
            " FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(_PASSAGE_TYPES)
            for pid, it, vec, n in zip(pids, items, vectors, lengths, strict=True):
                p = it.passage
                copy.write_row(
                    (
                        pid,
                        kb_id,
                        no_nul(p.id),
                        no_nul(doc_id),
                        no_nul(p.text),
                        no_nul(p.title),
                        no_nul(p.source),
                        no_nul(p.lang),
                        no_nul(p.stance),
                        no_nul(p.motion),
                        p.start,
                        p.end,
                        p.page,
                        no_nul(p.section),
                        groups[(p.motion, p.stance, p.lang)],
                        [no_nul(t) for t in it.tokens],
                        n,
                        vec.shape[0],
                        vec,
                    )
                )
        df: Counter[int] = Counter()
        with cur.copy(
            "COPY lex_postings (kb_id, term_id, grp, pid, tf, length) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int4", "int4", "int4", "int8", "int4", "int4"])
            for pid, it, c, n in zip(pids, items, counts, lengths, strict=True):
                grp = groups[(it.passage.motion, it.passage.stance, it.passage.lang)]
                for term, tf in c.items():
                    tid = term_ids[term]
                    df[tid] += 1
                    copy.write_row((kb_id, tid, grp, pid, tf, n))
        if df:
            ids = sorted(df)  # one lock order for concurrent writers
            # Only df: a cut list is bounded by its cut posting (m003's density order), so no
            # per-term bound is kept (m004 dropped m002's).
            cur.execute(
                "INSERT INTO lex_df (kb_id, term_id, df)"
                " SELECT %s, t, n FROM unnest(%s::int4[], %s::int4[]) AS u(t, n)"
                " ON CONFLICT (kb_id, term_id) DO UPDATE SET df = lex_df.df + EXCLUDED.df",
                (kb_id, ids, [df[i] for i in ids]),
            )
        sizes = Counter(groups[(it.passage.motion, it.passage.stance, it.passage.lang)] for it in items)
        _add_group_sizes(cur, kb_id, sizes)
        cur.execute(
            "UPDATE kbs SET passages = passages + %s, token_total = token_total + %s WHERE id = %s",
            (len(items), sum(lengths), kb_id),
        )

    def _ensure_vector_index(self, cur: psycopg.Cursor[Any], dim: int) -> None:
        if dim in self._indexed_dims:
            return
        name = f"passages_hnsw_{dim}"
        if cur.execute("SELECT to_regclass(%s)", (name,)).fetchone()[0] is None:  # type: ignore[index]
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.hnsw'))")
            cur.execute(_hnsw_ddl(dim))
        with self._dims_lock:
            self._indexed_dims.add(dim)

    def build_vector_indexes(self, maintenance_work_mem: str = "1GB") -> None:
        """Create the HNSW index of every stored dimension that has none (after a bulk load)."""
        with self._conn() as db:
            db.execute(sql.SQL("SET maintenance_work_mem = {}").format(sql.Literal(maintenance_work_mem)))
            for (dim,) in db.execute("SELECT DISTINCT dim FROM passages").fetchall():
                db.execute(_hnsw_ddl(int(dim)))
            db.execute("RESET maintenance_work_mem")

    def vacuum(self) -> None:
        """VACUUM ANALYZE the index's tables: fresh planner statistics and index-only scans."""
        with self._conn() as db:
            for table in (
                "kbs",
                "documents",
                "label_groups",
                "lex_terms",
                "lex_df",
                "passages",
                "lex_postings",
            ):
                db.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))

    def delete_document(self, kb: str, doc_id: str) -> bool:
        return bool(self.remove_document_ids(kb, [doc_id], bump=True))

    def delete_kb(self, kb: str) -> bool:
        with self._write() as cur:
            kb_id = _kb_id(cur, kb, lock=True)
            if kb_id is None:
                return False
            for table in ("lex_postings", "lex_df", "group_sizes", "passages", "documents"):
                cur.execute(
                    sql.SQL("DELETE FROM {} WHERE kb_id = %s").format(sql.Identifier(table)), (kb_id,)
                )
            cur.execute("DELETE FROM kbs WHERE id = %s", (kb_id,))
        return True

    # -- document housekeeping (what banron.kb.index.maintenance does on the SQLite file) ------
    def list_documents(self, kb: str) -> list[DocumentInfo]:
        """The documents of ``kb`` with their passage counts, by source then id ([] for no such kb)."""
        with self._conn() as db:
            rows = db.execute(
                "SELECT d.doc_id, d.source, d.content_hash, to_char(d.added_at AT TIME ZONE 'UTC',"
                " 'YYYY-MM-DD HH24:MI:SS'), (SELECT count(*) FROM passages p"
                "  WHERE p.kb_id = d.kb_id AND p.doc_id = d.doc_id)"
                " FROM documents d JOIN kbs k ON k.id = d.kb_id WHERE k.name = %s"
                ' ORDER BY d.source COLLATE "C", d.doc_id COLLATE "C"',
                (kb,),
            ).fetchall()
        return [DocumentInfo(str(a), str(b), str(c), str(d), int(e)) for a, b, c, d, e in rows]

    def remove_document_ids(self, kb: str, doc_ids: Iterable[str], *, bump: bool = False) -> int:
        """Delete these documents and their passages; returns how many existed."""
        ids = sorted({no_nul(d) for d in doc_ids})
        if not ids:
            return 0
        with self._write() as cur:
            return self._delete_docs(cur, kb, ids, bump=bump)

    def remove_documents(self, kb: str, source_or_doc_id: str) -> list[str]:
        """Delete the document with this id, or every document with this source; returns their ids."""
        with self._write() as cur:
            ids = [
                str(r[0])
                for r in cur.execute(
                    "SELECT d.doc_id FROM documents d JOIN kbs k ON k.id = d.kb_id"
                    ' WHERE k.name = %s AND (d.doc_id = %s OR d.source = %s) ORDER BY d.doc_id COLLATE "C"',
                    (kb, source_or_doc_id, source_or_doc_id),
                )
            ]
            self._delete_docs(cur, kb, ids)
        return ids

    def rename_source(self, kb: str, old: str, new: str) -> int:
        """Record that the documents loaded from ``old`` now come from ``new`` (a moved file)."""
        if old == new:
            return 0
        with self._write() as cur:
            cur.execute(
                "UPDATE documents d SET source = %s FROM kbs k WHERE k.id = d.kb_id AND k.name = %s"
                " AND d.source = %s",
                (no_nul(new), kb, old),
            )
            return cur.rowcount

    def set_document_source(self, kb: str, doc_ids: Iterable[str], source: str) -> int:
        """Set the source of these documents (a file now produces documents recorded elsewhere)."""
        ids = sorted(set(doc_ids))
        if not ids:
            return 0
        with self._write() as cur:
            cur.execute(
                "UPDATE documents d SET source = %s FROM kbs k WHERE k.id = d.kb_id AND k.name = %s"
                " AND d.doc_id = ANY(%s)",
                (no_nul(source), kb, ids),
            )
            return cur.rowcount

    def passage_fingerprints(self, kb: str, doc_ids: Iterable[str]) -> dict[str, str]:
        """``passage_fingerprint`` of each stored document among ``doc_ids`` that has passages."""
        texts: dict[str, list[str]] = {}
        with self._conn() as db:
            for doc_id, text in db.execute(
                "SELECT p.doc_id, p.text FROM passages p JOIN kbs k ON k.id = p.kb_id"
                " WHERE k.name = %s AND p.doc_id = ANY(%s)"
                ' ORDER BY p.doc_id COLLATE "C", p.start, p.id COLLATE "C"',
                (kb, sorted(set(doc_ids))),
            ):
                texts.setdefault(str(doc_id), []).append(str(text))
        return {doc_id: passage_fingerprint(parts) for doc_id, parts in texts.items()}

    def _delete_docs(
        self, cur: psycopg.Cursor[Any], kb: str, doc_ids: Sequence[str], *, bump: bool = False
    ) -> int:
        kb_id = _kb_id(cur, kb, lock=True)
        if kb_id is None:
            return 0
        old = cur.execute(
            "SELECT pid, grp, tokens, length FROM passages WHERE kb_id = %s AND doc_id = ANY(%s)",
            (kb_id, list(doc_ids)),
        ).fetchall()
        _remove_passages(cur, kb_id, old)
        removed = cur.execute(
            "DELETE FROM documents WHERE kb_id = %s AND doc_id = ANY(%s)", (kb_id, list(doc_ids))
        ).rowcount
        if removed or bump:
            cur.execute("UPDATE kbs SET generation = generation + 1 WHERE id = %s", (kb_id,))
        return removed

    # -- reading -----------------------------------------------------------------------------
    def document_hash(self, kb: str, doc_id: str) -> str | None:
        with self._conn() as db:
            row = db.execute(
                "SELECT d.content_hash FROM documents d JOIN kbs k ON k.id = d.kb_id"
                " WHERE k.name = %s AND d.doc_id = %s",
                (no_nul(kb), no_nul(doc_id)),
            ).fetchone()
        return str(row[0]) if row else None

    def list_kbs(self) -> list[KBInfo]:
        out = []
        with self._conn() as db:
            kbs = db.execute('SELECT id, name FROM kbs ORDER BY name COLLATE "C"').fetchall()
            for kb_id, name in kbs:
                docs = db.execute("SELECT count(*) FROM documents WHERE kb_id = %s", (kb_id,)).fetchone()
                langs = dict(
                    db.execute("SELECT lang, count(*) FROM passages WHERE kb_id = %s GROUP BY lang", (kb_id,))
                )
                stances = dict(
                    db.execute(
                        "SELECT stance, count(*) FROM passages WHERE kb_id = %s GROUP BY stance", (kb_id,)
                    )
                )
                n_docs = int(docs[0]) if docs else 0
                out.append(KBInfo(name, n_docs, sum(langs.values()), langs, stances))
        return out

    def has_kb(self, kb: str) -> bool:
        with self._conn() as db:
            return db.execute("SELECT 1 FROM kbs WHERE name = %s", (kb,)).fetchone() is not None

    def count(self, kb: str) -> int:
        with self._conn() as db:
            row = db.execute("SELECT passages FROM kbs WHERE name = %s", (kb,)).fetchone()
        return int(row[0]) if row else 0

    def get(self, kb: str, passage_id: str) -> Passage | None:
        with self._conn() as db:
            row = db.execute(
                f"SELECT {_COLS} FROM passages"
                " WHERE kb_id = (SELECT id FROM kbs WHERE name = %s) AND id = %s",
                (no_nul(kb), no_nul(passage_id)),
            ).fetchone()
        return passage_from_row(kb, row) if row else None

    def vectors(self, kb: str, passage_ids: Sequence[str]) -> dict[str, np.ndarray]:
        if not passage_ids:
            return {}
        with self._conn() as db:
            rows = db.execute(
                "SELECT p.id, p.embedding FROM passages p JOIN kbs k ON k.id = p.kb_id"
                " WHERE k.name = %s AND p.id = ANY(%s)",
                (no_nul(kb), [no_nul(i) for i in passage_ids]),
            ).fetchall()
        # pgvector hands back its Vector type (older releases: a numpy array).
        return {
            str(i): np.asarray(v.to_numpy() if hasattr(v, "to_numpy") else v, dtype=np.float32)
            for i, v in rows
        }

    def all_passages(self, kb: str) -> list[Passage]:
        """Every passage of ``kb`` in storage order (document, then position)."""
        with self._conn() as db:
            kb_id = _kb_id(db.cursor(), kb)
            if kb_id is None:
                raise KeyError(f"no knowledge base named {kb!r}")
            rows = db.execute(
                f"SELECT {_COLS} FROM passages WHERE kb_id = %s ORDER BY {_STORAGE_ORDER}",
                (kb_id,),
            ).fetchall()
        return [passage_from_row(kb, r) for r in rows]

    def stance_counts(self, kb: str, motion: str | None = None) -> Counter[str]:
        with self._conn() as db:
            rows = db.execute(
                "SELECT p.stance, count(*) FROM passages p JOIN kbs k ON k.id = p.kb_id"
                " WHERE k.name = %s AND (%s::text IS NULL OR p.motion = %s) GROUP BY p.stance",
                (kb, motion, motion),
            ).fetchall()
        return Counter({str(s): int(n) for s, n in rows})

    def browse(
        self, kb: str, *, stance: Stance | None = None, offset: int = 0, limit: int = 50
    ) -> tuple[int, list[Passage]]:
        """A page of passages in storage order, as ``all_passages`` gives them, and how many match."""
        with self._conn() as db:
            kb_id = _kb_id(db.cursor(), kb)
            if kb_id is None:
                raise KeyError(f"no knowledge base named {kb!r}")
            where = "kb_id = %(kb)s AND (%(stance)s::text IS NULL OR stance = %(stance)s)"
            params = {"kb": kb_id, "stance": stance, "off": max(0, offset), "lim": max(0, limit)}
            row = db.execute(f"SELECT count(*) FROM passages WHERE {where}", params).fetchone()
            rows = db.execute(
                f"SELECT {_COLS} FROM passages WHERE {where} ORDER BY {_STORAGE_ORDER}"
                " OFFSET %(off)s LIMIT %(lim)s",
                params,
            ).fetchall()
        return (int(row[0]) if row else 0), [passage_from_row(kb, r) for r in rows]

    def set_labels(self, kb: str, passage_id: str, *, stance: Stance, motion: str) -> bool:
        """A teacher's correction of a passage's stance and motion, seen by the next search.

        The labels decide the passage's label group, which its postings carry too (filtered
        lexical search reads postings by group): they move to the new group with it, and the
        groups' passage counts follow. The per-term statistics do not depend on labels.
        """
        if stance not in STANCES:
            raise ValueError(f"stance must be one of {', '.join(STANCES)}")
        with self._write() as cur:
            kb_id = _kb_id(cur, kb, lock=True)
            if kb_id is None:
                return False
            row = cur.execute(
                "SELECT pid, grp, lang, tokens FROM passages WHERE kb_id = %s AND id = %s",
                (kb_id, no_nul(passage_id)),
            ).fetchone()
            if row is None:
                return False
            pid, old, lang, tokens = int(row[0]), int(row[1]), str(row[2]), row[3]
            new = _group_ids(cur, {(motion, stance, lang)})[(motion, stance, lang)]
            cur.execute(
                "UPDATE passages SET stance = %s, motion = %s, grp = %s WHERE pid = %s",
                (stance, no_nul(motion), new, pid),
            )
            if new != old:
                term_ids = list(_existing_term_ids(cur, set(tokens)).values())
                cur.execute(
                    "UPDATE lex_postings SET grp = %s"
                    " WHERE kb_id = %s AND term_id = ANY(%s) AND grp = %s AND pid = %s",
                    (new, kb_id, term_ids, old, pid),
                )
                _add_group_sizes(cur, kb_id, Counter({old: -1, new: 1}))
            cur.execute("UPDATE kbs SET generation = generation + 1 WHERE id = %s", (kb_id,))
        return True

    def lexical(
        self, kbs: Sequence[str], tokens: list[str], k: int, filters: Filters
    ) -> list[tuple[Passage, float]]:
        """The k best passages by BM25, each knowledge base with its own statistics, as SQLite does."""
        if not tokens or k <= 0:
            return []
        qtf = Counter(no_nul(t) for t in tokens)  # a repeated query term counts again
        results: list[tuple[Passage, float]] = []
        with self._conn() as db:
            stats = _kb_stats(db, kbs)
            groups = _allowed_groups(db, filters)
            if groups == []:
                return []
            by_kb: dict[int, list[tuple[str, int, int]]] = {}
            for kb_id, term, tid, df in db.execute(
                "SELECT d.kb_id, t.term, t.id, d.df FROM lex_terms t"
                " JOIN lex_df d ON d.term_id = t.id WHERE d.kb_id = ANY(%s) AND t.term = ANY(%s)",
                ([kb[0] for kb in stats], list(qtf)),
            ):
                by_kb.setdefault(int(kb_id), []).append((str(term), int(tid), int(df)))
            for kb_id, name, n, total in stats:
                found = by_kb.get(kb_id)
                if n == 0 or not found:
                    continue
                avgdl = total / n
                terms = [_LexTerm(tid, qtf[term] * _idf(n, df), df) for term, tid, df in found]
                params = {"kb": kb_id, "avgdl": avgdl, "grps": groups, "k1": K1, "b": B}
                postings = sum(t.df for t in terms)
                if groups is None:
                    exact = postings <= self.lexical_exact_below
                else:  # the allowed groups' share of the postings, estimated by their passages
                    row = db.execute(
                        "SELECT coalesce(sum(n), 0) FROM group_sizes WHERE kb_id = %s AND grp = ANY(%s)",
                        (kb_id, groups),
                    ).fetchone()
                    exact = postings * (int(row[0]) if row else 0) / n <= self.lexical_exact_below_filtered
                if exact or len(terms) > 62:  # (a passage's read terms are bits of an int8)
                    rows = _lexical_exact(db, terms, params, groups is not None, k)
                else:
                    rows = _lexical_capped(db, terms, params, groups is not None, k)
                results.extend((passage_from_row(name, r[1:]), float(r[0])) for r in rows)
        results.sort(key=lambda r: (-r[1], r[0].id))
        return results[:k]

    def dense(
        self,
        kbs: Sequence[str],
        vector: np.ndarray,
        k: int,
        filters: Filters,
        *,
        exact: bool | None = None,
    ) -> list[tuple[Passage, float]]:
        """The k nearest passages by cosine.

        ``exact=None`` (the default) compares the query with every allowed passage when they are at
        most ``exact_below`` (a filtered search usually: one motion's one side), which is both
        exact and faster than walking the graph past the others, and otherwise walks the HNSW
        index; ``True`` or ``False`` forces one way (to measure the index's recall, say).
        """
        if k <= 0:
            return []
        q = np.asarray(vector, dtype=np.float32).ravel()
        dim = int(q.shape[0])
        norm = float(np.linalg.norm(q))
        with self._conn() as db:
            stats = _kb_stats(db, kbs)
            groups = _allowed_groups(db, filters)
            if groups == [] or not stats:
                return []
            names = {kb_id: name for kb_id, name, _, _ in stats}
            params: dict[str, Any] = {"kbs": list(names), "grps": groups, "q": q}
            if exact is None:
                if groups is None:
                    allowed = sum(n for _, _, n, _ in stats)
                else:
                    row = db.execute(
                        "SELECT coalesce(sum(n), 0) FROM group_sizes WHERE kb_id = ANY(%s) AND grp = ANY(%s)",
                        (list(names), groups),
                    ).fetchone()
                    allowed = int(row[0]) if row else 0
                exact = allowed <= self.exact_below
            query = _dense_sql(dim, k, filtered=groups is not None, zero=norm == 0, exact=exact)
            if exact:
                with db.transaction():
                    db.execute("SET LOCAL enable_indexscan = off")
                    rows = db.execute(query, params).fetchall()
            else:
                rows = db.execute(query, params).fetchall()
        results = [(passage_from_row(names[r[1]], r[2:]), float(r[0])) for r in rows]
        results.sort(key=lambda r: (-r[1], r[0].id))
        return results[:k]


def _dense_sql(dim: int, k: int, *, filtered: bool, zero: bool = False, exact: bool = False) -> str:
    group_cond = "AND grp = ANY(%(grps)s)" if filtered else ""
    if zero:  # every cosine is 0 (pgvector would say NaN): the first k by id, as SQLite
        return (
            f"SELECT 0.0, kb_id, {_COLS} FROM passages WHERE kb_id = ANY(%(kbs)s) AND dim = {int(dim)}"
            f' {group_cond} ORDER BY id COLLATE "C" LIMIT {int(k)}'
        )
    # The ORDER BY expression is the HNSW index's, and ``dim = d`` its predicate, so the planner
    # can walk the index; ties at the cut all come back (WITH TIES), settled by id by the caller.
    distance = f"(embedding::vector({int(dim)}) <=> %(q)s::vector({int(dim)}))"
    if exact:  # a bounded (top-N) sort, ties settled by id as SQLite does
        return (
            f"SELECT 1 - {distance}, kb_id, {_COLS} FROM passages"
            f" WHERE dim = {int(dim)} AND kb_id = ANY(%(kbs)s) {group_cond}"
            f' ORDER BY {distance}, id COLLATE "C" LIMIT {int(k)}'
        )
    return (
        f"SELECT 1 - {distance}, kb_id, {_COLS} FROM passages"
        f" WHERE dim = {int(dim)} AND kb_id = ANY(%(kbs)s) {group_cond}"
        f" ORDER BY {distance} FETCH FIRST {int(k)} ROWS WITH TIES"
    )


def _hnsw_ddl(dim: int) -> sql.Composed:
    return sql.SQL(
        "CREATE INDEX IF NOT EXISTS {} ON passages USING hnsw ((embedding::vector({})) vector_cosine_ops)"
        " WHERE dim = {}"
    ).format(sql.Identifier(f"passages_hnsw_{dim}"), sql.Literal(dim), sql.Literal(dim))


def _lexical_sql(filtered: bool, k: int) -> str:
    """BM25 top k of one knowledge base: one aggregate over the postings of the query's terms.

    The postings are read by index-only scans of their primary key, (kb, term, group) first, so a
    filter reads only its groups' postings; each term is weighted by its idf times its count in
    the query. Ties at the cut all come back (WITH TIES) for the caller to settle by passage id,
    as SQLite does.
    """
    group_cond = "AND p.grp = ANY(%(grps)s)" if filtered else ""
    tfc = _TFC
    cols = ", ".join("x." + c.strip() for c in _COLS.split(","))
    return (
        f"WITH s AS (SELECT p.pid, sum(w.weight * {tfc}) AS score"
        " FROM unnest(%(tids)s::int4[], %(weights)s::float8[]) AS w(term_id, weight)"
        f" JOIN lex_postings p ON p.kb_id = %(kb)s AND p.term_id = w.term_id {group_cond}"
        f" GROUP BY p.pid ORDER BY score DESC FETCH FIRST {int(k)} ROWS WITH TIES)"
        f" SELECT s.score, {cols} FROM s JOIN passages x ON x.pid = s.pid"
    )


_TFC = "p.tf / (p.tf + %(k1)s * (1 - %(b)s + %(b)s * p.length / %(avgdl)s))"  # BM25's tf part
_DENSITY = "(p.tf::float8 / p.length)"  # m003's index expression, written the same for the planner
_CAP = 5_000  # postings read at most from a long list: its best, by density
_READ_WHOLE = 15_000  # a list up to this long is read whole (one range scan beats the lookups)
_RESCORE = 1_000  # passages scored in full at most (at least 4k)
_LIGHT_SHARE = 0.5  # the long terms looked up last: the lightest, their cut bounds up to this share
_FILTERED_EXACT_BELOW = 200_000  # a filtered search reads its groups' postings whole up to this


@dataclass(frozen=True)
class _LexTerm:
    """A query term of one knowledge base: its weight (idf times its count in the query) and its
    document frequency."""

    tid: int
    weight: float
    df: int


def _density_part(density: float, avgdl: float) -> float:
    """BM25's tf part (``_TFC``) of a posting of this density (tf / length), with b = 1:
    tf / (tf + k1 * length / avgdl) = density / (density + k1 / avgdl)."""
    return density / (density + K1 / avgdl)


def _lexical_exact(
    db: Connection, terms: Sequence[_LexTerm], params: dict[str, Any], filtered: bool, k: int
) -> list[tuple[Any, ...]]:
    return db.execute(
        _lexical_sql(filtered, k),
        {**params, "tids": [t.tid for t in terms], "weights": [t.weight for t in terms]},
    ).fetchall()


def _lexical_capped(
    db: Connection, terms: Sequence[_LexTerm], params: dict[str, Any], filtered: bool, k: int
) -> list[tuple[Any, ...]]:
    """BM25 top k of one knowledge base, reading at most ``_CAP`` postings of each long list.

    1. A term with more than ``_READ_WHOLE`` postings is read only down to its ``_CAP``-th
       posting (in the allowed groups) in density order (tf / length, descending: m003's index),
       plus the ties of that posting. With b = 1 a posting's BM25 part is a function of its
       density alone, rising with it, so these are exactly the term's highest parts, for any
       average length, and whatever lies below the cut scores at most ``tau``, the cut posting's
       own part. Shorter lists are read whole.
    2. Per passage: the sum of what was read, and a bound, that sum plus ``tau`` of each long
       term not read for it. The passages whose bound reaches the k-th best sum (a score the k-th
       best reaches at least) are candidates; the ``_RESCORE`` with the highest bounds are kept.
    3. Those get the missing heavy long terms' scores by primary-key lookups of their postings
       (``_light_terms``: the long terms with the lowest ``tau`` are the light ones).
    4. The candidates whose score so far plus ``tau`` of their missing light terms still reaches
       the k-th best score so far get the light terms' lookups too; the others cannot make the
       top k. The top k by this full (exact BM25) score are returned, ties at the cut included.

    Every returned score is the passage's exact BM25 score. A passage can be missed only if it is
    beyond the cut of every long list it is in and has no short-list term, or if more than
    ``_RESCORE`` passages had a higher bound; when the ``tau`` of all long terms add up to less
    than the k-th best score and no more than ``_RESCORE`` passages qualify, the top k is exact.
    """
    avgdl = params["avgdl"]
    long = [t for t in terms if t.df > max(_CAP, _READ_WHOLE)]
    cuts: dict[int, float] = {}  # term -> density of its cut posting
    if long:
        group_cond = "AND p.grp = ANY(%(grps)s)" if filtered else ""
        for tid, density in db.execute(
            f"SELECT u.term_id, c.d FROM unnest(%(tids)s::int4[]) AS u(term_id)"
            f" CROSS JOIN LATERAL (SELECT {_DENSITY} AS d FROM lex_postings p WHERE p.kb_id = %(kb)s"
            f" AND p.term_id = u.term_id {group_cond} ORDER BY {_DENSITY} DESC"
            " OFFSET %(off)s LIMIT 1) c",
            {**params, "tids": [t.tid for t in long], "off": _CAP - 1},
        ):
            cuts[int(tid)] = float(density)
    bits = {t.tid: 1 << i for i, t in enumerate(terms)}  # which terms a passage was read for
    whole = [t for t in terms if t.tid not in cuts]
    capped = [t for t in terms if t.tid in cuts]
    taus = {t.tid: t.weight * _density_part(cuts[t.tid], avgdl) for t in capped}
    light = _light_terms(taus)
    heavy = [t for t in capped if t.tid not in light]
    lighter = [t for t in capped if t.tid in light]
    return db.execute(
        _capped_sql(filtered, k),
        {
            **params,
            "ftid": [t.tid for t in whole],
            "fw": [t.weight for t in whole],
            "fbit": [bits[t.tid] for t in whole],
            "ptid": [t.tid for t in capped],
            "pcut": [cuts[t.tid] for t in capped],
            "pw": [t.weight for t in capped],
            "pbit": [bits[t.tid] for t in capped],
            "ptau": [taus[t.tid] for t in capped],
            "total": sum(taus.values()),
            "ht": [t.tid for t in heavy],
            "hw": [t.weight for t in heavy],
            "hb": [bits[t.tid] for t in heavy],
            "xt": [t.tid for t in lighter],
            "xw": [t.weight for t in lighter],
            "xb": [bits[t.tid] for t in lighter],
            "xtau": [taus[t.tid] for t in lighter],
            "m": max(_RESCORE, 4 * k),
            "k": k,
        },
    ).fetchall()


def _capped_sql(filtered: bool, k: int) -> str:
    """Steps 2 to 4 of ``_lexical_capped`` in one statement (materialized CTEs: each runs once)."""
    group_cond = "AND p.grp = ANY(%(grps)s)" if filtered else ""
    reads = (
        f"SELECT p.grp, p.pid, u.weight * {_TFC} AS s, 0::float8 AS tau, u.bit"
        " FROM unnest(%(ftid)s::int4[], %(fw)s::float8[], %(fbit)s::int8[]) AS u(term_id, weight, bit)"
        f" JOIN lex_postings p ON p.kb_id = %(kb)s AND p.term_id = u.term_id {group_cond}"
        " UNION ALL"
        f" SELECT p.grp, p.pid, u.weight * {_TFC}, u.tau, u.bit"
        " FROM unnest(%(ptid)s::int4[], %(pcut)s::float8[], %(pw)s::float8[],"
        "  %(pbit)s::int8[], %(ptau)s::float8[]) AS u(term_id, cut, weight, bit, tau)"
        " JOIN lex_postings p ON p.kb_id = %(kb)s AND p.term_id = u.term_id"
        f"  AND {_DENSITY} >= u.cut {group_cond}"
    )
    cols = ", ".join("x." + c.strip() for c in _COLS.split(","))
    return (
        # read: per passage, the sum read and the bound of what was not (tau of each unread term)
        "WITH s AS MATERIALIZED (SELECT r.grp, r.pid, sum(r.s) AS score,"
        f" %(total)s - sum(r.tau) AS rest, bit_or(r.bit) AS found FROM ({reads}) r GROUP BY r.grp, r.pid),"
        # the k-th best sum read: the k-th best full score is at least this
        " th AS MATERIALIZED (SELECT coalesce((SELECT score FROM s ORDER BY score DESC"
        "  OFFSET %(k)s - 1 LIMIT 1), 0) AS theta),"
        " c AS MATERIALIZED (SELECT s.grp, s.pid, s.score, s.found FROM s, th"
        "  WHERE s.score + s.rest >= th.theta - 1e-9 * (1 + th.theta)"
        "  ORDER BY s.score + s.rest DESC LIMIT %(m)s),"
        # the candidates' missing heavy terms, by primary key (kb, term, group, passage), and the
        # bound of their missing light ones
        f" h AS MATERIALIZED (SELECT c.grp, c.pid, c.found, c.score + {_lookups('h', 'c')} AS score,"
        "  (SELECT coalesce(sum(u.tau), 0) FROM unnest(%(xtau)s::float8[], %(xb)s::int8[]) AS u(tau, bit)"
        "  WHERE c.found & u.bit = 0) AS rest FROM c),"
        # the k-th best of these partial scores: the full k-th best is at least this
        " th2 AS MATERIALIZED (SELECT coalesce((SELECT score FROM h ORDER BY score DESC"
        "  OFFSET %(k)s - 1 LIMIT 1), 0) AS theta),"
        # the missing light terms only for the candidates that can still reach it
        f" f AS (SELECT h.pid, h.score + {_lookups('x', 'h')} AS score FROM h, th2"
        "  WHERE h.score + h.rest >= th2.theta - 1e-9 * (1 + th2.theta))"
        f" SELECT f.score, {cols} FROM (SELECT pid, score FROM f ORDER BY score DESC"
        f" FETCH FIRST {int(k)} ROWS WITH TIES) f JOIN passages x ON x.pid = f.pid"
    )


def _lookups(terms: str, row: str) -> str:
    """The BM25 parts of the terms ``%(<terms>t)s`` not yet read for the passage ``row``, by
    primary-key lookups of its postings."""
    return (
        f"coalesce((SELECT sum(u.weight * {_TFC}) FROM unnest(%({terms}t)s::int4[], %({terms}w)s::float8[],"
        f" %({terms}b)s::int8[]) AS u(term_id, weight, bit) JOIN lex_postings p ON p.kb_id = %(kb)s"
        f" AND p.term_id = u.term_id AND p.grp = {row}.grp AND p.pid = {row}.pid"
        f" WHERE {row}.found & u.bit = 0), 0)"
    )


def _light_terms(taus: dict[int, float]) -> set[int]:
    """The long terms to look up last: the lightest cut bounds, together at most ``_LIGHT_SHARE``
    of all of them. After the heavy terms' lookups, a candidate whose score plus its missing light
    terms' bounds falls short of the k-th best score so far cannot make the top k, so its light
    lookups are skipped (about a quarter of all lookups at 100k chunks) without changing the result.
    """
    light: set[int] = set()
    budget = _LIGHT_SHARE * sum(taus.values())
    for tid, tau in sorted(taus.items(), key=lambda kv: (kv[1], kv[0])):
        if tau > budget:
            break
        budget -= tau
        light.add(tid)
    return light


def _idf(n: int, df: int) -> float:
    """BM25's idf as Lucene (and bm25s) compute it: never negative."""
    return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))


def _kb_stats(db: Connection, kbs: Sequence[str]) -> list[tuple[int, str, int, int]]:
    """(id, name, passages, token_total) of each named knowledge base; KeyError for a missing one."""
    rows = db.execute(
        "SELECT id, name, passages, token_total FROM kbs WHERE name = ANY(%s)", (list(kbs),)
    ).fetchall()
    found = {r[1] for r in rows}
    for kb in kbs:
        if kb not in found:
            raise KeyError(f"no knowledge base named {kb!r}")
    return [(int(a), str(b), int(c), int(d)) for a, b, c, d in rows]


def _allowed_groups(db: Connection, filters: Filters) -> list[int] | None:
    """Label groups a filter allows (None: no restriction; []: nothing can match)."""
    if filters.motion is None and filters.stances is None and filters.lang is None:
        return None
    rows = db.execute(
        "SELECT id FROM label_groups WHERE (%(m)s::text IS NULL OR motion = %(m)s)"
        " AND (%(s)s::text[] IS NULL OR stance = ANY(%(s)s)) AND (%(l)s::text IS NULL OR lang = %(l)s)"
        " ORDER BY id",
        {
            "m": filters.motion,
            "s": None if filters.stances is None else list(filters.stances),
            "l": filters.lang,
        },
    ).fetchall()
    return [int(r[0]) for r in rows]


def _kb_id(cur: psycopg.Cursor[Any], kb: str, *, lock: bool = False) -> int | None:
    """The id of a knowledge base; ``lock`` holds its row until commit.

    Writers of one knowledge base are serialized by that row lock: its statistics (passage count,
    total length) and document frequencies stay those of what is committed.
    """
    row = cur.execute(
        "SELECT id FROM kbs WHERE name = %s" + (" FOR UPDATE" if lock else ""), (no_nul(kb),)
    ).fetchone()
    return int(row[0]) if row else None


def _create_kb(cur: psycopg.Cursor[Any], kb: str, *, lock: bool = False) -> int:
    cur.execute(
        "INSERT INTO kbs (name) SELECT %s WHERE NOT EXISTS (SELECT 1 FROM kbs WHERE name = %s)"
        " ON CONFLICT (name) DO NOTHING",
        (no_nul(kb), no_nul(kb)),
    )
    kb_id = _kb_id(cur, kb, lock=lock)
    assert kb_id is not None
    return kb_id


def _group_ids(
    cur: psycopg.Cursor[Any], labels: set[tuple[str, str, str]]
) -> dict[tuple[str, str, str], int]:
    keys = sorted((no_nul(m), no_nul(s), no_nul(lang)) for m, s, lang in labels)
    cols = ([k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys])
    cur.execute(
        "INSERT INTO label_groups (motion, stance, lang)"
        " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]) AS u(m, s, l)"
        " WHERE NOT EXISTS (SELECT 1 FROM label_groups g WHERE g.motion = u.m AND g.stance = u.s"
        "  AND g.lang = u.l) ON CONFLICT DO NOTHING",
        cols,
    )
    rows = cur.execute(
        "SELECT g.motion, g.stance, g.lang, g.id FROM label_groups g"
        " JOIN unnest(%s::text[], %s::text[], %s::text[]) AS u(m, s, l)"
        "  ON g.motion = u.m AND g.stance = u.s AND g.lang = u.l",
        cols,
    ).fetchall()
    by_clean = {(m, s, lang): int(i) for m, s, lang, i in rows}
    return {(m, s, lang): by_clean[(no_nul(m), no_nul(s), no_nul(lang))] for m, s, lang in labels}


def _term_ids(cur: psycopg.Cursor[Any], terms: set[str]) -> dict[str, int]:
    if not terms:
        return {}
    ordered = sorted(terms)
    # Only the missing terms are inserted: ON CONFLICT alone would draw (and waste) an identity
    # value for every term already known, and a large corpus would run through int4.
    cur.execute(
        "INSERT INTO lex_terms (term) SELECT t FROM unnest(%s::text[]) AS t"
        " WHERE NOT EXISTS (SELECT 1 FROM lex_terms x WHERE x.term = t) ON CONFLICT (term) DO NOTHING",
        (ordered,),
    )
    rows = cur.execute("SELECT term, id FROM lex_terms WHERE term = ANY(%s)", (ordered,)).fetchall()
    return {str(t): int(i) for t, i in rows}


def _remove_passages(cur: psycopg.Cursor[Any], kb_id: int, rows: Sequence[tuple[Any, ...]]) -> None:
    """Delete passages (rows of pid, grp, tokens, length) with their postings and statistics."""
    if not rows:
        return
    counts = [(int(pid), int(grp), set(tokens), int(length)) for pid, grp, tokens, length in rows]
    term_ids = _existing_term_ids(cur, set().union(*(c[2] for c in counts)))
    keys: list[tuple[int, int, int]] = []
    df: Counter[int] = Counter()
    for pid, grp, terms, _ in counts:
        for term in terms:
            tid = term_ids[term]
            keys.append((tid, grp, pid))
            df[tid] += 1
    if keys:
        keys.sort()
        cur.execute(
            "DELETE FROM lex_postings p USING unnest(%s::int4[], %s::int4[], %s::int8[]) AS u(t, g, d)"
            " WHERE p.kb_id = %s AND p.term_id = u.t AND p.grp = u.g AND p.pid = u.d",
            ([k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], kb_id),
        )
        ids = sorted(df)
        cur.execute(
            "UPDATE lex_df d SET df = d.df - u.n FROM unnest(%s::int4[], %s::int4[]) AS u(t, n)"
            " WHERE d.kb_id = %s AND d.term_id = u.t",
            (ids, [df[i] for i in ids], kb_id),
        )
        cur.execute("DELETE FROM lex_df WHERE kb_id = %s AND term_id = ANY(%s) AND df <= 0", (kb_id, ids))
    cur.execute("DELETE FROM passages WHERE pid = ANY(%s)", ([c[0] for c in counts],))
    _add_group_sizes(cur, kb_id, Counter({g: -n for g, n in Counter(c[1] for c in counts).items()}))
    cur.execute(
        "UPDATE kbs SET passages = passages - %s, token_total = token_total - %s WHERE id = %s",
        (len(counts), sum(c[3] for c in counts), kb_id),
    )


def _add_group_sizes(cur: psycopg.Cursor[Any], kb_id: int, sizes: Counter[int]) -> None:
    """Add to the passage count of each label group (negative counts for removals)."""
    grps = sorted(sizes)
    cur.execute(
        "INSERT INTO group_sizes (kb_id, grp, n)"
        " SELECT %s, g, n FROM unnest(%s::int4[], %s::int8[]) AS u(g, n)"
        " ON CONFLICT (kb_id, grp) DO UPDATE SET n = group_sizes.n + EXCLUDED.n",
        (kb_id, grps, [sizes[g] for g in grps]),
    )


def _existing_term_ids(cur: psycopg.Cursor[Any], terms: set[str]) -> dict[str, int]:
    rows = cur.execute("SELECT term, id FROM lex_terms WHERE term = ANY(%s)", (sorted(terms),)).fetchall()
    return {str(t): int(i) for t, i in rows}
