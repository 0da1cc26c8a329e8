"""How good is an argument as an argument? A ridge regression over e5 vectors and surface features.

Trained on ``judge/data/quality.jsonl``: arguments we wrote and scored 1–5 (Korean and English,
several per motion, from "specific mechanism + consequence + support" down to slang with no
reason), so what it learns is the difference between a strong and a weak argument on the same
topic rather than the topic itself. Measured against IBM's human quality labels by
``banron eval judge`` (ArgQ-Rank-30k).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from banron.judge import features as F
from banron.judge.learn import RidgeRegression

ALPHA = 100.0  # strong regularisation: ~100 examples, 384 + 8 features


@dataclass(frozen=True)
class Scored:
    text: str
    score: float
    motion: str
    lang: str


def training_examples() -> list[Scored]:
    path = resources.files("banron.judge") / "data" / "quality.jsonl"
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            obj = json.loads(line)
            out.append(Scored(obj["text"], float(obj["score"]), obj.get("motion", ""), obj.get("lang", "ko")))
    return out


def training_texts() -> list[str]:
    from banron.judge.stance import anchor_texts

    return [e.text for e in training_examples()] + list(anchor_texts())


def surface(text: str) -> list[float]:
    """Length, punctuation, reasons, evidence, informality: language-aware, model-free."""
    t = text.strip()
    return [
        float(np.log1p(len(t))),
        float(t[-1:] in ".!?。"),
        float(bool(F.REASON.search(t))),
        float(bool(F.EVIDENCE.search(t) or F.NUMBER.search(t))),
        float(bool(F.INFORMAL.search(t))),
        float(bool(F.INSULT.search(t))),
        float(bool(re.search(r"\bi\b", t))),  # lower-case "i": careless writing
        float(len(F.FILLER.findall(t))),
    ]


class QualityModel:
    def __init__(self, model: RidgeRegression) -> None:
        self.model = model

    @classmethod
    def fit(cls, vectors: np.ndarray, texts: Sequence[str], scores: Sequence[float]) -> QualityModel:
        x = np.hstack([vectors, np.array([surface(t) for t in texts])])
        return cls(RidgeRegression(ALPHA).fit(x, np.asarray(scores, dtype=np.float64)))

    def predict(self, vectors: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """A quality estimate per text on the 1–5 scale (not clipped: the ranking is what counts)."""
        if not len(texts):
            return np.zeros(0)
        x = np.hstack([vectors, np.array([surface(t) for t in texts])])
        return self.model.predict(x)


@lru_cache(maxsize=4)
def _cached(embedder_name: str) -> QualityModel:
    from banron.judge.vectors import bundled_vectors

    examples = training_examples()
    texts = [e.text for e in examples]
    return QualityModel.fit(bundled_vectors(texts, embedder_name), texts, [e.score for e in examples])


def default_model(embedder_name: str = "e5-small-q4") -> QualityModel:
    """The model fitted on the bundled scored arguments (cached per process)."""
    return _cached(embedder_name)
