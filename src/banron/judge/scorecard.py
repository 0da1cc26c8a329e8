"""The judge's verdict on one speech, and totals per side over many.

``Scorecard.to_dict()`` is the line ``banron judge --json`` prints (the issue's schema, plus a
few fields that explain it: per-dimension reasons, the unrounded overall, the language and the
rubric). ``from_dict`` reads it back, so reports can be drawn from saved JSON lines.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from banron.judge.fallacies import Finding
from banron.judge.rubric import DIMENSIONS


@dataclass(frozen=True)
class DimensionScore:
    dimension: str
    score: int  # 1..5
    reason: str  # one sentence, quoting the student where there is something to quote


@dataclass(frozen=True)
class ClaimCheck:
    """One claim of the speech: is it supported, and by what?"""

    text: str
    supported: bool
    support: tuple[str, ...] = ()  # kinds: reason, number, source, example, citation, kb
    # The side it seems to argue (pro|con) when its polarity is clear: a hint (~76% right), never scored.
    side: str | None = None
    passage_id: str | None = None  # knowledge-base passage that backs it (--kb)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text, "supported": self.supported, "support": list(self.support)}
        if self.side:
            out["side"] = self.side
        if self.passage_id:
            out["passage_id"] = self.passage_id
        return out


@dataclass
class Scorecard:
    id: str
    motion: str
    side: str
    lang: str
    rubric: str
    scores: dict[str, DimensionScore]
    overall_exact: float  # weighted mean of the dimension scores, 1..5
    quality: float  # argument-quality estimate of the speech as a whole, 1..5 (a learned signal)
    fallacies: list[Finding] = field(default_factory=list)
    claims: list[ClaimCheck] = field(default_factory=list)
    key_points: list[str] = field(default_factory=list)
    feedback: str = ""
    date: str | None = None
    text: str = ""

    @property
    def overall(self) -> int:
        return max(1, min(5, int(self.overall_exact + 0.5)))

    @property
    def fallacy(self) -> str | None:
        return self.fallacies[0].type if self.fallacies else None

    @property
    def evidence_used(self) -> bool:
        return any(set(c.support) & {"number", "source", "example", "citation", "kb"} for c in self.claims)

    @property
    def unsupported_claims(self) -> list[str]:
        return [c.text for c in self.claims if not c.supported]

    def score(self, dim: str) -> int:
        return self.scores[dim].score

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scores": {d: self.scores[d].score for d in DIMENSIONS},
            "overall": self.overall,
            "fallacy": self.fallacy,
            "fallacies": [f.to_dict() for f in self.fallacies],
            "claims": [c.to_dict() for c in self.claims],
            "evidence_used": self.evidence_used,
            "key_points": list(self.key_points),
            "feedback": self.feedback,
            # Beyond the schema: what explains the numbers above.
            "reasons": {d: self.scores[d].reason for d in DIMENSIONS},
            "unsupported_claims": self.unsupported_claims,
            "overall_exact": round(self.overall_exact, 2),
            "quality": round(self.quality, 2),
            "motion": self.motion,
            "side": self.side,
            "lang": self.lang,
            "rubric": self.rubric,
            **({"date": self.date} if self.date else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scorecard:
        reasons = data.get("reasons", {})
        scores = {d: DimensionScore(d, int(data["scores"][d]), str(reasons.get(d, ""))) for d in DIMENSIONS}
        fallacies = [
            Finding(str(f["type"]), str(f.get("sentence", "")), float(f.get("confidence", 1.0)))
            for f in data.get("fallacies", [])
        ]
        claims = [
            ClaimCheck(
                str(c["text"]),
                bool(c.get("supported", False)),
                tuple(c.get("support", ())),
                c.get("side"),
                c.get("passage_id"),
            )
            for c in data.get("claims", [])
        ]
        return cls(
            id=str(data.get("id", "")),
            motion=str(data.get("motion", "")),
            side=str(data.get("side", "")),
            lang=str(data.get("lang", "ko")),
            rubric=str(data.get("rubric", "free")),
            scores=scores,
            overall_exact=float(data.get("overall_exact", data.get("overall", 3))),
            quality=float(data.get("quality", 3.0)),
            fallacies=fallacies,
            claims=claims,
            key_points=[str(k) for k in data.get("key_points", [])],
            feedback=str(data.get("feedback", "")),
            date=data.get("date"),
        )


@dataclass(frozen=True)
class SideTotals:
    """Per-dimension totals and means of one side's speeches (for end-of-debate adjudication)."""

    side: str
    speeches: int
    totals: dict[str, int]
    means: dict[str, float]
    overall_mean: float
    fallacies: dict[str, int]


def side_totals(cards: Iterable[Scorecard]) -> dict[str, SideTotals]:
    """Sum and average each dimension over each side's scorecards."""
    by_side: dict[str, list[Scorecard]] = defaultdict(list)
    for c in cards:
        by_side[c.side].append(c)
    out = {}
    for side, cs in by_side.items():
        totals = {d: sum(c.score(d) for c in cs) for d in DIMENSIONS}
        fallacies: dict[str, int] = defaultdict(int)
        for c in cs:
            for f in c.fallacies:
                fallacies[f.type] += 1
        out[side] = SideTotals(
            side=side,
            speeches=len(cs),
            totals=totals,
            means={d: totals[d] / len(cs) for d in DIMENSIONS},
            overall_mean=sum(c.overall_exact for c in cs) / len(cs),
            fallacies=dict(fallacies),
        )
    return out
