"""The bundled motions and evidence packs, and the shipped seed vectors that embed them."""

from __future__ import annotations

from collections import Counter

import numpy as np

from banron import content
from banron.content.seed_vectors import bundled_passage_texts, load_seeds
from banron.kb.embed import content_hash, get_embedder
from banron.kb.loaders import load_path


def test_motions_have_packs_with_both_sides_and_two_languages() -> None:
    ms = content.motions()
    assert sum(m.lang == "ko" for m in ms) >= 2 and sum(m.lang == "en" for m in ms) >= 1
    packs = {p.stem: p for p in content.pack_paths()}
    assert set(packs) == {m.id for m in ms}
    for m in ms:
        docs = load_path(packs[m.id])
        assert len(docs) >= 20
        assert {d.motion for d in docs} == {m.id}
        stances = Counter(d.stance for d in docs)
        assert stances["pro"] >= 10 and stances["con"] >= 10
        assert {d.lang for d in docs} == {"ko", "en"}, "each pack has evidence in the other language too"


def test_seed_vectors_cover_every_bundled_passage_and_match_the_embedder() -> None:
    emb = get_embedder()
    texts = bundled_passage_texts(emb)
    seeds = load_seeds()
    missing = [t[:40] for t in texts if content_hash(t) not in seeds]
    assert not missing, f"packs changed: run `python -m banron.content.seed_vectors` ({len(missing)} missing)"
    sample = texts[:: max(1, len(texts) // 5)]
    fresh = emb.passages(sample)
    for t, v in zip(sample, fresh, strict=True):
        assert float(np.dot(seeds[content_hash(t)], v)) > 0.999
