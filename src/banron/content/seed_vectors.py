"""Precomputed embeddings of the bundled passages, shipped so a fresh install debates at once.

Embedding the ~100 bundled passages costs ~20 s on two cores; the vectors are the same on every
machine, so they ship in ``vectors.npz`` (keys: sha256 of the passage text) and seed the
embedding cache. A test fails when a pack changes without rebuilding them:

    python -m banron.content.seed_vectors
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from banron import content
from banron.kb.embed import Embedder, EmbeddingCache, content_hash, get_embedder
from banron.kb.loaders import load_path

SEED_FILE = Path(__file__).with_name("vectors.npz")
SEED_MODEL = "e5-small-q4"


def bundled_passage_texts(embedder: Embedder) -> list[str]:
    from banron.kb.ingest import Ingestor

    # Chunk exactly as ingestion does, so the seeded hashes are the ones looked up.
    chunker = Ingestor(index=None, embedder=embedder, tokenizer=None, cache=None)  # type: ignore[arg-type]
    return [
        p.text for path in content.pack_paths() for d in load_path(path) for p in chunker.passages_of("x", d)
    ]


def load_seeds() -> dict[str, np.ndarray]:
    if not SEED_FILE.exists():
        return {}
    with np.load(SEED_FILE) as data:
        return {k: data[k] for k in data.files}


def seed_cache(cache: EmbeddingCache, model: str) -> int:
    """Put the shipped vectors into ``cache``; returns how many were new to it."""
    if model != SEED_MODEL:
        return 0
    seeds = load_seeds()
    missing = set(seeds) - set(cache.get_many(model, list(seeds)))
    if missing:
        cache.put_many(model, {h: seeds[h] for h in missing})
    return len(missing)


def build() -> Path:
    embedder = get_embedder(SEED_MODEL)
    texts = sorted(set(bundled_passage_texts(embedder)))
    vectors = embedder.passages(texts)
    np.savez_compressed(SEED_FILE, **{content_hash(t): v for t, v in zip(texts, vectors, strict=True)})
    return SEED_FILE


if __name__ == "__main__":
    print(f"wrote {build()}")
