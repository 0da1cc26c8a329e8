"""Ingestion: files -> documents -> chunks -> (tokens, vectors) -> index, incrementally.

A document whose content hash is unchanged is skipped; a changed one has its passages replaced in
one transaction; vectors come from the content-hash cache when the same text was embedded before.
One unreadable file is reported and the rest of the batch still goes in.

Files added with ``add_paths`` are recorded as the documents' source (their absolute path), which
keeps the knowledge base in step with the files, on any index:

* a file that now yields fewer or other documents (a JSONL file lost lines) has the documents it
  no longer yields removed (only after it loaded without error: a broken file removes nothing);
* a file that moved keeps its documents: same document ids (moved to another folder) only have
  their source updated; a renamed file (new ids, same passages, old path gone) is written under
  its new ids, with vectors from the embedding cache, and its old documents are removed;
* two files in one batch yielding the same document id: the first is kept, the other reported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from banron.domain import Passage
from banron.kb.chunking import chunk_text
from banron.kb.embed import Embedder, EmbeddingCache, content_hash, embed_passages
from banron.kb.index import maintenance
from banron.kb.index.base import SearchIndex, StoredPassage
from banron.kb.lang import detect_lang
from banron.kb.loaders import Document, LoaderError, iter_files, load_path
from banron.kb.tokenize import LexicalTokenizer


@dataclass
class IngestReport:
    documents_added: int = 0
    documents_updated: int = 0
    documents_unchanged: int = 0
    documents_removed: int = 0  # no longer yielded by a re-added (or renamed) file
    files_moved: int = 0  # files found under a new path, their documents carried over
    passages_written: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Ingestor:
    index: SearchIndex
    embedder: Embedder
    tokenizer: LexicalTokenizer
    cache: EmbeddingCache | None
    chunk_tokens: int = 256
    overlap_sentences: int = 1
    processes: int = 1

    def passages_of(self, kb: str, doc: Document) -> list[Passage]:
        """Split a document into passages with stable ids and source offsets."""
        limit = min(self.chunk_tokens, self.embedder.max_tokens)
        if doc.passage_id and self.embedder.count_tokens(doc.text) <= limit:
            chunks = [(0, len(doc.text), doc.text)]
        else:
            chunks = [
                (c.start, c.end, c.text)
                for c in chunk_text(doc.text, self.embedder.count_tokens, limit, self.overlap_sentences)
            ]
        base = doc.passage_id or doc.doc_id
        out = []
        for i, (start, end, text) in enumerate(chunks):
            pid = base if len(chunks) == 1 and doc.passage_id else f"{base}#{i + 1}"
            out.append(
                Passage(
                    id=pid,
                    kb=kb,
                    text=text,
                    title=doc.title,
                    source=doc.source,
                    lang=(doc.lang if doc.passage_id else "") or detect_lang(text),
                    stance=doc.stance,  # type: ignore[arg-type]
                    motion=doc.motion,
                    doc_id=doc.doc_id,
                    start=start,
                    end=end,
                    page=doc.page_at(start),
                    section=doc.section_at(start),
                )
            )
        return out

    def add_documents(
        self,
        kb: str,
        docs: Sequence[Document],
        report: IngestReport | None = None,
        progress: Callable[[int], None] | None = None,
        on_total: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Add or update documents; ``on_total(n)`` announces how many passages will be embedded."""
        pairs = [(doc, doc.source) for doc in docs]
        return self._add(kb, pairs, report or IngestReport(), progress, on_total)

    def _add(
        self,
        kb: str,
        docs: Sequence[tuple[Document, str]],
        report: IngestReport,
        progress: Callable[[int], None] | None = None,
        on_total: Callable[[int], None] | None = None,
        prepared: dict[str, list[Passage]] | None = None,
    ) -> IngestReport:
        """Write (document, origin) pairs; the origin is recorded as the document's source."""
        self.index.ensure_kb(kb)
        pending: list[tuple[Document, str, str, bool, list[Passage]]] = []
        for doc, origin in docs:
            h = _document_hash(doc)
            old = self.index.document_hash(kb, doc.doc_id)
            if old == h:
                report.documents_unchanged += 1
                continue
            passages = (prepared or {}).get(doc.doc_id) or self.passages_of(kb, doc)
            pending.append((doc, origin, h, old is not None, passages))
        texts = [p.text for *_, ps in pending for p in ps]
        if on_total:
            on_total(len(texts))
        vectors = embed_passages(
            texts, self.embedder, self.cache, processes=self.processes, progress=progress
        )
        i = 0
        for doc, origin, h, existed, passages in pending:
            items = []
            for p in passages:
                items.append(StoredPassage(p, self.tokenizer.tokens(f"{p.title}\n{p.text}"), vectors[i]))
                i += 1
            self.index.replace_document(kb, doc.doc_id, h, origin, items)
            report.passages_written += len(items)
            if existed:
                report.documents_updated += 1
            else:
                report.documents_added += 1
        return report

    def add_paths(
        self,
        kb: str,
        paths: Sequence[Path],
        progress: Callable[[int], None] | None = None,
        on_total: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Load files and folders into ``kb``; unreadable files go to ``report.errors``."""
        report = IngestReport()
        try:
            files = iter_files(list(paths))
        except LoaderError as e:
            report.errors.append((str(e.path), str(e)))
            return report
        loaded: dict[str, list[Document]] = {}  # origin -> documents, for the files that loaded
        owner: dict[str, str] = {}  # doc_id -> origin
        for f in files:
            try:
                file_docs = load_path(f)
            except LoaderError as e:
                report.errors.append((str(f), str(e)))
                continue
            except Exception as e:  # a loader bug must not lose the rest of the batch
                report.errors.append((str(f), f"unexpected error: {type(e).__name__}: {e}"))
                continue
            origin = str(Path(f).resolve())
            kept: list[Document] = []
            for doc in file_docs:
                first = owner.setdefault(doc.doc_id, origin)
                if first != origin:
                    report.errors.append(
                        (str(f), f"document id {doc.doc_id!r} is also yielded by {first}; rename one of them")
                    )
                    continue
                kept.append(doc)
            loaded[origin] = kept
        pairs = [(doc, origin) for origin, file_docs in loaded.items() for doc in file_docs]
        index = self.index
        index.ensure_kb(kb)
        stored = {info.doc_id: info for info in index.list_documents(kb)}
        gone = {source for source in {info.source for info in stored.values()} if _gone(source)}
        moves: dict[str, str] = {}  # old origin -> new origin
        claims: dict[str, list[str]] = {}  # origin -> its documents recorded under another source
        new_docs: list[tuple[Document, str]] = []
        for doc, origin in pairs:
            info = stored.get(doc.doc_id)
            if info is None:
                new_docs.append((doc, origin))
            elif info.source != origin:
                if info.source in gone:
                    moves.setdefault(info.source, origin)
                else:
                    claims.setdefault(origin, []).append(doc.doc_id)
        prepared = self._find_renames(kb, stored, gone, new_docs, set(owner), moves)

        self._add(kb, pairs, report, progress, on_total, prepared)
        for origin, doc_ids in claims.items():
            index.set_document_source(kb, doc_ids, origin)
        for old, new in moves.items():
            index.rename_source(kb, old, new)
        report.files_moved += len(moves)
        after = index.list_documents(kb)
        for origin, file_docs in loaded.items():
            keep = {doc.doc_id for doc in file_docs}
            stale = [info.doc_id for info in after if info.source == origin and info.doc_id not in keep]
            report.documents_removed += index.remove_document_ids(kb, stale)
        return report

    def _find_renames(
        self,
        kb: str,
        stored: dict[str, maintenance.DocumentInfo],
        gone: set[str],
        new_docs: Sequence[tuple[Document, str]],
        batch_ids: set[str],
        moves: dict[str, str],
    ) -> dict[str, list[Passage]]:
        """Detect renamed files: a new document with the same passages as a stored one whose file
        is gone. Adds old -> new origin to ``moves``; returns the passages it computed, for reuse."""
        orphans = [
            info.doc_id for info in stored.values() if info.doc_id not in batch_ids and info.source in gone
        ]
        if not orphans or not new_docs:
            return {}
        by_print: dict[str, str] = {}  # fingerprint -> old origin
        for doc_id, fingerprint in self.index.passage_fingerprints(kb, orphans).items():
            by_print.setdefault(fingerprint, stored[doc_id].source)
        prepared: dict[str, list[Passage]] = {}
        for doc, origin in new_docs:
            passages = prepared[doc.doc_id] = self.passages_of(kb, doc)
            old = by_print.get(maintenance.passage_fingerprint(p.text for p in passages))
            if old is not None:
                moves.setdefault(old, origin)
        return prepared


def _document_hash(doc: Document) -> str:
    return content_hash(
        "\x1f".join([doc.text, doc.title, doc.source, doc.lang, doc.stance, doc.motion, doc.passage_id])
    )


def _gone(source: str) -> bool:
    """Whether ``source`` is a file path recorded by ``add_paths`` whose file no longer exists."""
    return os.path.isabs(source) and not os.path.exists(source)
