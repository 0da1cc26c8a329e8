"""Sentence vectors for the judge: e5 "query:" embeddings, cached by content hash.

The judge compares texts with each other (an argument with a key point, a sentence with labelled
examples), a symmetric task, for which e5 is used with the ``query:`` prefix on both sides. Those
vectors differ from the ``passage:`` vectors the knowledge base stores, so they are cached under
their own model key in the same :class:`~banron.kb.embed.EmbeddingCache`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from banron.kb.embed import Embedder, EmbeddingCache, content_hash, get_embedder, query_vectors

BATCH = 16


def cache_key(embedder: Embedder) -> str:
    return f"{embedder.name}:query"


def embed_queries(
    texts: Sequence[str],
    embedder: Embedder,
    cache: EmbeddingCache | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """L2-normalised ``query:`` vectors of ``texts`` (one row each), reusing cached ones."""
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    if not texts:
        return out
    key = cache_key(embedder)
    hashes = [content_hash(t) for t in texts]
    found = cache.get_many(key, hashes) if cache else {}
    todo: dict[str, int] = {}
    for i, h in enumerate(hashes):
        if h not in found:
            todo.setdefault(h, i)
    if progress and len(texts) - len(todo):
        progress(len(texts) - len(todo))
    order = list(todo.values())
    for start in range(0, len(order), BATCH):
        idx = order[start : start + BATCH]
        vecs = query_vectors(embedder, [texts[i] for i in idx])
        fresh = {hashes[i]: vecs[j] for j, i in enumerate(idx)}
        found.update(fresh)
        if cache:
            cache.put_many(key, fresh)  # per batch, so an interrupted run keeps its work
        if progress:
            progress(len(idx))
    for i, h in enumerate(hashes):
        out[i] = found[h]
    return out


# -- vectors of the judge's own training data, shipped with the package ---------------------------

SEED_FILE = resources.files("banron.judge") / "data" / "vectors.npz"
SEED_MODEL = "e5-small-q4"


def load_seeds() -> dict[str, np.ndarray]:
    """Shipped ``query:`` vectors of the bundled training texts, keyed by content hash."""
    if not SEED_FILE.is_file():
        return {}
    with SEED_FILE.open("rb") as f, np.load(f) as data:
        return {k: data[k] for k in data.files}


def bundled_vectors(texts: Sequence[str], embedder_name: str = SEED_MODEL) -> np.ndarray:
    """Vectors of the judge's training texts: shipped ones, any missing one embedded now.

    Embedding the ~400 training texts takes ~20 s on two cores, so a fresh install (and each
    test, with its own empty home) would pay that on its first judgement; shipped vectors make it
    free. A test fails when the data changes without ``python -m banron.judge.vectors``.
    """
    embedder = get_embedder(embedder_name)
    seeds = load_seeds() if embedder_name == SEED_MODEL else {}
    hashes = [content_hash(t) for t in texts]
    missing = [t for t, h in zip(texts, hashes, strict=True) if h not in seeds]
    fresh = dict(zip([content_hash(t) for t in missing], embed_queries(missing, embedder), strict=True))
    return np.stack([seeds[h] if h in seeds else fresh[h] for h in hashes]).astype(np.float32)


def training_texts() -> list[str]:
    """Every text of the judge's bundled training data."""
    from banron.judge import fallacies, quality

    return sorted({*(e.text for e in fallacies.training_examples()), *quality.training_texts()})


def build() -> list[Path]:
    """Embed the training data into vectors.npz, then fit and save the fallacy model."""
    from banron.judge import fallacies

    texts = training_texts()
    seeds = load_seeds()
    vectors = embed_queries([t for t in texts if content_hash(t) not in seeds], get_embedder(SEED_MODEL))
    fresh = iter(vectors)
    path = Path(str(SEED_FILE))
    out: dict[str, Any] = {
        h: seeds[h] if h in seeds else next(fresh) for h in (content_hash(t) for t in texts)
    }
    np.savez_compressed(path, **out)
    return [path, fallacies.save_default(Path(str(fallacies.MODEL_FILE)))]


if __name__ == "__main__":
    for p in build():
        print(f"wrote {p}")
