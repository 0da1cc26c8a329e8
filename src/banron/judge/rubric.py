"""Rubrics as data: ``judge/rubrics/<format>.yaml``, one file per debate format (the ids of
``debate/formats``: free, ceda, ld, drill).

A rubric names its dimensions (Korean and English), weights them (weights sum to 1) and says
what each level 1–5 means. A format may ``extend`` another and only change the weights. The
judge scores every dimension the code knows (:data:`DIMENSIONS`); a rubric must list exactly
those.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

DIMENSIONS = ("argument", "evidence", "clash", "organization", "language")


class RubricError(ValueError):
    """A rubric file is missing or malformed."""


@dataclass(frozen=True)
class Dimension:
    id: str
    name_ko: str
    name_en: str
    weight: float
    question_ko: str
    question_en: str
    levels: dict[int, tuple[str, str]]  # level -> (ko, en)

    def name(self, lang: str) -> str:
        return self.name_ko if lang == "ko" else self.name_en

    def label(self, lang: str) -> str:
        """ "논리 (argument)" in Korean, "Argument" in English."""
        return f"{self.name_ko} ({self.id})" if lang == "ko" else self.name_en

    def level(self, score: int, lang: str) -> str:
        ko, en = self.levels.get(score, ("", ""))
        return ko if lang == "ko" else en


@dataclass(frozen=True)
class Rubric:
    id: str
    name_ko: str
    name_en: str
    dimensions: tuple[Dimension, ...]

    def __getitem__(self, dim: str) -> Dimension:
        for d in self.dimensions:
            if d.id == dim:
                return d
        raise KeyError(dim)

    @property
    def weights(self) -> dict[str, float]:
        return {d.id: d.weight for d in self.dimensions}

    def name(self, lang: str) -> str:
        return self.name_ko if lang == "ko" else self.name_en

    def weighted(self, scores: dict[str, float]) -> float:
        """The weighted mean of per-dimension scores (the overall score on the same 1–5 scale)."""
        return sum(d.weight * scores[d.id] for d in self.dimensions)


def available() -> list[str]:
    folder = resources.files("banron.judge") / "rubrics"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def _raw(name: str) -> dict[str, Any]:
    path = resources.files("banron.judge") / "rubrics" / f"{name}.yaml"
    if not path.is_file():
        raise RubricError(f"no rubric named {name!r}; available: {', '.join(available())}")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise RubricError(f"rubric {name!r} is not a mapping")
    return data


def _pair(obj: Any, what: str) -> tuple[str, str]:
    if not isinstance(obj, dict) or not {"ko", "en"} <= set(obj):
        raise RubricError(f"{what} needs both ko and en text")
    return str(obj["ko"]), str(obj["en"])


@lru_cache(maxsize=16)
def load(name: str = "free") -> Rubric:
    """The rubric of a format by name (see :func:`available`)."""
    data = _raw(name)
    base = load(str(data["extends"])) if "extends" in data else None
    name_ko, name_en = _pair(data.get("name"), f"rubric {name!r} name")
    if base is not None:
        weights = data.get("weights", {})
        unknown = set(weights) - set(DIMENSIONS)
        if unknown:
            raise RubricError(f"rubric {name!r} weights unknown dimensions: {sorted(unknown)}")
        dims = tuple(
            Dimension(**{**d.__dict__, "weight": float(weights.get(d.id, d.weight))}) for d in base.dimensions
        )
    else:
        dims_out = []
        for raw in data.get("dimensions", []):
            levels = {int(k): _pair(v, f"{name}.{raw.get('id')} level {k}") for k, v in raw["levels"].items()}
            if set(levels) != {1, 2, 3, 4, 5}:
                raise RubricError(f"rubric {name!r} dimension {raw.get('id')!r} needs levels 1-5")
            nko, nen = _pair(raw.get("name"), f"{name}.{raw.get('id')} name")
            qko, qen = _pair(raw.get("question"), f"{name}.{raw.get('id')} question")
            dims_out.append(Dimension(str(raw["id"]), nko, nen, float(raw["weight"]), qko, qen, levels))
        dims = tuple(dims_out)
    ids = [d.id for d in dims]
    if sorted(ids) != sorted(DIMENSIONS):
        raise RubricError(f"rubric {name!r} must have exactly the dimensions {list(DIMENSIONS)}, has {ids}")
    total = sum(d.weight for d in dims)
    if abs(total - 1.0) > 1e-6:
        raise RubricError(f"rubric {name!r} weights sum to {total:.3f}, not 1")
    return Rubric(str(data.get("id", name)), name_ko, name_en, dims)
