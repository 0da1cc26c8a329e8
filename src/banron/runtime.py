"""Wiring: builds the core's backends from settings. The CLI and (later) the web app only call this.

Everything is created lazily so a command that needs no model (``config show``) starts instantly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from banron import content
from banron.config import Settings, load_settings
from banron.kb.embed import Embedder, EmbeddingCache, get_embedder
from banron.kb.index.sqlite import SQLiteIndex
from banron.kb.ingest import Ingestor, IngestReport
from banron.kb.loaders import load_path
from banron.kb.search import Retriever
from banron.kb.tokenize import LexicalTokenizer, make_tokenizer
from banron.llm import ChatBackend, create

if TYPE_CHECKING:
    from banron.kb.index.postgres import PostgresIndex


@dataclass
class Runtime:
    settings: Settings = field(default_factory=load_settings)

    @cached_property
    def index(self) -> SQLiteIndex | PostgresIndex:
        url = self.settings.kb.database_url
        if url is not None and url.get_secret_value():
            from banron.kb.index.postgres import PostgresIndex

            return PostgresIndex(url.get_secret_value())
        return SQLiteIndex(self.settings.kb_dir / "kb.sqlite")

    @cached_property
    def embedder(self) -> Embedder:
        return get_embedder()

    @cached_property
    def tokenizer(self) -> LexicalTokenizer:
        return make_tokenizer(self.settings.kb.tokenizer)

    @cached_property
    def cache(self) -> EmbeddingCache:
        return EmbeddingCache(self.settings.cache_dir / "embeddings.sqlite")

    @cached_property
    def retriever(self) -> Retriever:
        return Retriever(self.index, self.embedder, self.tokenizer, self.settings.kb)

    def ingestor(self, processes: int = 1) -> Ingestor:
        return Ingestor(
            self.index,
            self.embedder,
            self.tokenizer,
            self.cache,
            chunk_tokens=self.settings.kb.chunk_tokens,
            overlap_sentences=self.settings.kb.overlap_sentences,
            processes=processes,
        )

    def llm(self, name: str | None = None) -> ChatBackend:
        return create(name or self.settings.llm.backend, self.settings)

    def ensure_bundled(self) -> IngestReport:
        """Load the bundled evidence packs into the ``bundled`` knowledge base (no-op when current)."""
        from banron.content.seed_vectors import seed_cache

        docs = [d for path in content.pack_paths() for d in load_path(path)]
        ingestor = self.ingestor()
        if any(self.index.document_hash(content.BUNDLED_KB, d.doc_id) is None for d in docs):
            seed_cache(self.cache, self.embedder.name)
        return ingestor.add_documents(content.BUNDLED_KB, docs)

    def warm_up(self) -> None:
        """Load what the first search loads: the embedder, the tokenizer, the bundled evidence."""
        self.retriever.search("warm-up", [content.BUNDLED_KB], top_k=1)
