"""Ingestion: files -> documents -> chunks -> (tokens, vectors) -> index, incrementally.

A document whose content hash is unchanged is skipped; a changed one has its passages replaced in
one transaction; vectors come from the content-hash cache when the same text was embedded before.
One unreadable file is reported and the rest of the batch still goes in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from banron.domain import Passage
from banron.kb.chunking import chunk_text
from banron.kb.embed import Embedder, EmbeddingCache, content_hash, embed_passages
from banron.kb.index.base import SearchIndex, StoredPassage
from banron.kb.lang import detect_lang
from banron.kb.loaders import Document, LoaderError, iter_files, load_path
from banron.kb.tokenize import LexicalTokenizer


@dataclass
class IngestReport:
    documents_added: int = 0
    documents_updated: int = 0
    documents_unchanged: int = 0
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
        report = report or IngestReport()
        self.index.ensure_kb(kb)
        pending: list[tuple[Document, str, bool, list[Passage]]] = []
        for doc in docs:
            h = content_hash(
                "\x1f".join([doc.text, doc.title, doc.source, doc.lang, doc.stance, doc.motion, doc.passage_id])
            )
            old = self.index.document_hash(kb, doc.doc_id)
            if old == h:
                report.documents_unchanged += 1
                continue
            pending.append((doc, h, old is not None, self.passages_of(kb, doc)))
        texts = [p.text for _, _, _, ps in pending for p in ps]
        if on_total:
            on_total(len(texts))
        vectors = embed_passages(
            texts, self.embedder, self.cache, processes=self.processes, progress=progress
        )
        i = 0
        for doc, h, existed, passages in pending:
            items = []
            for p in passages:
                items.append(StoredPassage(p, self.tokenizer.tokens(f"{p.title}\n{p.text}"), vectors[i]))
                i += 1
            self.index.replace_document(kb, doc.doc_id, h, doc.source, items)
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
        report = IngestReport()
        docs: list[Document] = []
        try:
            files = iter_files(list(paths))
        except LoaderError as e:
            report.errors.append((str(e.path) if hasattr(e, "path") else "", str(e)))
            return report
        for f in files:
            try:
                docs.extend(load_path(f))
            except LoaderError as e:
                report.errors.append((str(f), str(e)))
            except Exception as e:  # a loader bug must not lose the rest of the batch
                report.errors.append((str(f), f"unexpected error: {e}"))
        return self.add_documents(kb, docs, report, progress, on_total)
