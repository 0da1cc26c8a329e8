"""Knowledge-base housekeeping on the SQLite index file: list, remove and re-source documents,
and correct a passage's stance labels.

Plain SQL on ``SQLiteIndex.path``, one transaction per call (``atomic_sqlite``, which turns foreign
keys on so a document's passages go with it). Whenever passages are removed the knowledge base's
``generation`` is bumped, so every open ``SQLiteIndex`` reloads its in-memory rankings on its next
search. Changing only a document's ``source`` (where it was loaded from) leaves the passages, and so
the generation, alone.

``documents.source`` is the document's origin: for files added with ``Ingestor.add_paths`` the
absolute path of the file, which is what stale-document removal and move detection key on.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from banron.domain import STANCES, Stance
from banron.util import atomic_sqlite

__all__ = [
    "DocumentInfo",
    "list_documents",
    "passage_fingerprint",
    "passage_fingerprints",
    "remove_document_ids",
    "remove_documents",
    "rename_source",
    "set_document_source",
    "set_passage_labels",
]

_SQL_VARS = 500  # ids per IN (...) list, well under SQLite's variable limit


@dataclass(frozen=True)
class DocumentInfo:
    doc_id: str
    source: str
    content_hash: str
    added_at: str
    passages: int


@contextlib.contextmanager
def _reading(index_path: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(index_path, timeout=30)
    try:
        yield db
    finally:
        db.close()


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), _SQL_VARS):
        yield items[i : i + _SQL_VARS]


def _bump(db: sqlite3.Connection, kb: str) -> None:
    db.execute("UPDATE kbs SET generation = generation + 1 WHERE name = ?", (kb,))


def list_documents(index_path: Path, kb: str) -> list[DocumentInfo]:
    """The documents of ``kb`` with their passage counts, by source then id ([] for no such kb)."""
    with _reading(index_path) as db:
        rows = db.execute(
            "SELECT d.doc_id, d.source, d.content_hash, d.added_at, count(p.id)"
            " FROM documents d LEFT JOIN passages p ON p.kb = d.kb AND p.doc_id = d.doc_id"
            " WHERE d.kb = ? GROUP BY d.doc_id ORDER BY d.source, d.doc_id",
            (kb,),
        ).fetchall()
    return [DocumentInfo(str(a), str(b), str(c), str(d), int(e)) for a, b, c, d, e in rows]


def _delete(db: sqlite3.Connection, kb: str, doc_ids: Sequence[str]) -> int:
    removed = 0
    for chunk in _chunks(doc_ids):
        marks = ",".join("?" * len(chunk))
        # Passages go by the foreign key's cascade; deleting them explicitly as well keeps this
        # correct on a connection or a database without enforced foreign keys.
        db.execute(f"DELETE FROM passages WHERE kb = ? AND doc_id IN ({marks})", (kb, *chunk))
        cur = db.execute(f"DELETE FROM documents WHERE kb = ? AND doc_id IN ({marks})", (kb, *chunk))
        removed += cur.rowcount
    if removed:
        _bump(db, kb)
    return removed


def remove_document_ids(index_path: Path, kb: str, doc_ids: Iterable[str]) -> int:
    """Delete these documents and their passages; returns how many existed."""
    ids = sorted(set(doc_ids))
    if not ids:
        return 0
    with atomic_sqlite(index_path) as db:
        return _delete(db, kb, ids)


def remove_documents(index_path: Path, kb: str, source_or_doc_id: str) -> list[str]:
    """Delete the document with this id, or every document with this source; returns their ids."""
    with atomic_sqlite(index_path) as db:
        ids = [
            str(row[0])
            for row in db.execute(
                "SELECT doc_id FROM documents WHERE kb = ? AND (doc_id = ? OR source = ?) ORDER BY doc_id",
                (kb, source_or_doc_id, source_or_doc_id),
            )
        ]
        _delete(db, kb, ids)
    return ids


def rename_source(index_path: Path, kb: str, old: str, new: str) -> int:
    """Record that the documents loaded from ``old`` now come from ``new`` (a moved file)."""
    if old == new:
        return 0
    with atomic_sqlite(index_path) as db:
        cur = db.execute("UPDATE documents SET source = ? WHERE kb = ? AND source = ?", (new, kb, old))
        return cur.rowcount


def set_document_source(index_path: Path, kb: str, doc_ids: Iterable[str], source: str) -> int:
    """Set the source of these documents (a file now produces documents recorded elsewhere)."""
    ids = sorted(set(doc_ids))
    changed = 0
    if not ids:
        return 0
    with atomic_sqlite(index_path) as db:
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            cur = db.execute(
                f"UPDATE documents SET source = ? WHERE kb = ? AND doc_id IN ({marks})", (source, kb, *chunk)
            )
            changed += cur.rowcount
    return changed


def set_passage_labels(index_path: Path, kb: str, passage_id: str, *, stance: Stance, motion: str) -> bool:
    """Set which side of which motion a passage supports (a teacher's correction); False when
    there is no such passage.

    A correction survives re-adding the unchanged file (its document hash does not change, so
    its passages are not rewritten); a changed file's passages are replaced and take the labels
    the file gives them.
    """
    if stance not in STANCES:
        raise ValueError(f"stance must be one of {', '.join(STANCES)}")
    with atomic_sqlite(index_path) as db:
        cur = db.execute(
            "UPDATE passages SET stance = ?, motion = ? WHERE kb = ? AND id = ?",
            (stance, motion, kb, passage_id),
        )
        if cur.rowcount:
            _bump(db, kb)  # searches group passages by label in memory: they reload
    return bool(cur.rowcount)


def passage_fingerprint(texts: Iterable[str]) -> str:
    """A document's identity by the text of its passages in order (not its id, title or source)."""
    h = hashlib.sha256()
    for text in texts:
        h.update(text.encode("utf-8"))
        h.update(b"\x1e")
    return h.hexdigest()


def passage_fingerprints(index_path: Path, kb: str, doc_ids: Iterable[str]) -> dict[str, str]:
    """``passage_fingerprint`` of each stored document among ``doc_ids`` that has passages."""
    ids = sorted(set(doc_ids))
    texts: dict[str, list[str]] = {}
    with _reading(index_path) as db:
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            for doc_id, text in db.execute(
                f"SELECT doc_id, text FROM passages WHERE kb = ? AND doc_id IN ({marks})"
                " ORDER BY doc_id, start, id",
                (kb, *chunk),
            ):
                texts.setdefault(str(doc_id), []).append(str(text))
    return {doc_id: passage_fingerprint(parts) for doc_id, parts in texts.items()}
