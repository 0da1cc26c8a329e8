"""The judge's own data: rubrics, training sets, shipped vectors and model, and the evaluation set."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from banron.judge import fallacies, rubric
from banron.judge.vectors import load_seeds, training_texts
from banron.kb.embed import content_hash

ROOT = Path(__file__).resolve().parents[2]
EVAL = ROOT / "benchmarks" / "data" / "ko-fallacy"


def test_every_rubric_loads_with_five_weighted_bilingual_dimensions() -> None:
    assert {"free", "ceda", "ld", "drill"} <= set(rubric.available())
    for name in rubric.available():
        r = rubric.load(name)
        assert [d.id for d in r.dimensions] == list(rubric.DIMENSIONS)
        assert sum(r.weights.values()) == pytest.approx(1.0)
        for d in r.dimensions:
            assert d.name_ko and d.name_en and set(d.levels) == {1, 2, 3, 4, 5}
    assert rubric.load("free")["argument"].name_ko == "논리"
    assert rubric.load("ceda").weights["clash"] > rubric.load("free").weights["clash"]
    with pytest.raises(rubric.RubricError):
        rubric.load("no-such-format")


def test_shipped_vectors_and_model_match_the_training_data() -> None:
    seeds = load_seeds()
    missing = [t for t in training_texts() if content_hash(t) not in seeds]
    assert not missing, (
        f"training data changed: run `python -m banron.judge.vectors` ({len(missing)} missing)"
    )
    examples = fallacies.training_examples()
    with fallacies.MODEL_FILE.open("rb") as f, np.load(f) as data:
        stored = str(data["fingerprint"])
    assert stored == fallacies.fingerprint([e.text for e in examples], [e.label for e in examples]), (
        "fallacy data or cues changed: run `python -m banron.judge.vectors`"
    )


def _rows(name: str) -> list[dict[str, object]]:
    return [
        json.loads(line) for line in (EVAL / name).read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def test_korean_fallacy_eval_set_is_balanced_and_apart_from_training() -> None:
    test = _rows("test.jsonl")
    assert len(test) >= 70
    counts = Counter(str(r["label"]) for r in test)
    assert set(counts) == set(fallacies.LABELS)
    assert max(counts.values()) - min(counts.values()) <= 1
    for r in test:
        assert r["sentence"] is None or str(r["sentence"]) in str(r["text"])
        assert str(r["text"]).count("니다") + str(r["text"]).count(".") // 2 + 1 >= 2
    training = {e.text for e in fallacies.training_examples()}
    sentences = {
        s for r in test + _rows("dev.jsonl") for s in str(r["text"]).replace("다. ", "다.\n").split("\n")
    }
    assert not sentences & training
    train_motions = {"학교 내 스마트폰", "숙제", "교복", "주 4일"}
    assert not any(m in str(r["motion"]) for r in test for m in train_motions)
