"""Which side of the motion does a claim argue? Evaluative polarity times the motion's direction.

A claim supports "X should be banned" when it speaks badly of X ("X causes aggression") and
opposes it when it speaks well of X. So the stance is computed in two parts, both without a
chat model (the embedded 1.5B model labels English claim stance below chance):

* the motion's **direction**: +1 for motions that introduce, allow or expand something, -1 for
  those that ban, abolish or restrict it (Korean and English wording rules);
* the claim's **polarity**: is it saying something good or bad about its subject? The e5 vector
  is projected on the direction from our own "bad" example sentences to our own "good" ones
  (``POSITIVE``/``NEGATIVE`` below, Korean and English).

Known limit: a claim about a *different* target than the motion's ("Free speech matters" on
"Holocaust denial should be a criminal offence") can flip the sign; ~20% of IBM's claims are so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

POSITIVE = (
    "This is good and beneficial.",
    "It helps people and improves their lives.",
    "It is effective and has positive effects.",
    "It protects people's rights and freedom.",
    "It is fair and just.",
    "It brings real benefits to society.",
    "It makes people safer and healthier.",
    "이것은 좋고 유익합니다.",
    "사람들에게 도움이 되고 삶을 개선합니다.",
    "효과가 있고 긍정적인 결과를 가져옵니다.",
    "사람들의 권리와 자유를 지켜 줍니다.",
    "공정하고 정의로운 일입니다.",
    "사회에 실질적인 이익을 줍니다.",
    "사람들을 더 안전하고 건강하게 만듭니다.",
)
NEGATIVE = (
    "This is bad and harmful.",
    "It hurts people and makes their lives worse.",
    "It is ineffective and has negative effects.",
    "It violates people's rights and freedom.",
    "It is unfair and unjust.",
    "It causes real damage to society.",
    "It puts people in danger and harms their health.",
    "이것은 나쁘고 해롭습니다.",
    "사람들에게 피해를 주고 삶을 악화시킵니다.",
    "효과가 없고 부정적인 결과를 가져옵니다.",
    "사람들의 권리와 자유를 침해합니다.",
    "불공정하고 부당한 일입니다.",
    "사회에 실질적인 손해를 끼칩니다.",
    "사람들을 위험에 빠뜨리고 건강을 해칩니다.",
)

_AGAINST_EN = re.compile(
    r"\b(ban|banned|banning|abolish\w*|abolition|prohibit\w*|restrict\w*|limit\w*|criminali[sz]\w*|"
    r"criminal offen[cs]e|outlaw\w*|end|ended|ending|stop|cap|reduce|disband|forbid\w*|harmful|"
    r"more harm than good|abandon\w*|cancel\w*|repeal\w*|fight(?!\s+for)|never|not|no longer|oppose|"
    r"phase out|close)\b",
    re.IGNORECASE,
)
_AGAINST_KO = re.compile(r"(금지|폐지|제한|규제|축소|반대|중단|철폐|감축|없애|막아야|처벌|해롭|퇴출)")


def motion_direction(motion: str) -> int:
    """+1 when the motion would do or allow something, -1 when it would stop or restrict it."""
    return -1 if (_AGAINST_KO.search(motion) or _AGAINST_EN.search(motion)) else 1


def _anchors(lang: str | None) -> tuple[list[str], list[str]]:
    """The anchor sentences in the claim's language (e5's languages are not perfectly aligned:
    on IBM's train split, English-only anchors label English claims better than mixed ones)."""
    if lang is None:
        return list(POSITIVE), list(NEGATIVE)
    pick = (lambda t: t.isascii()) if lang == "en" else (lambda t: not t.isascii())
    return [t for t in POSITIVE if pick(t)], [t for t in NEGATIVE if pick(t)]


@lru_cache(maxsize=8)
def _axis(embedder_name: str, lang: str | None = None) -> tuple[np.ndarray, float]:
    from banron.judge.vectors import bundled_vectors

    pos_texts, neg_texts = _anchors(lang)
    pos = bundled_vectors(pos_texts, embedder_name)
    neg = bundled_vectors(neg_texts, embedder_name)
    axis = pos.mean(axis=0) - neg.mean(axis=0)
    # The midpoint between the two centroids is where polarity is neutral.
    mid = float(((pos.mean(axis=0) + neg.mean(axis=0)) / 2) @ axis)
    return axis.astype(np.float32), mid


def polarity(vectors: np.ndarray, embedder_name: str = "e5-small-q4", lang: str | None = None) -> np.ndarray:
    """Evaluative polarity of each text: > 0 speaks well of its subject, < 0 badly.

    ``lang`` (ko|en) measures against the anchors of that language; None uses all of them."""
    axis, mid = _axis(embedder_name, lang if lang in ("ko", "en") else None)
    return np.asarray(vectors, dtype=np.float32) @ axis - mid


@dataclass(frozen=True)
class StanceGuess:
    side: str  # "pro" or "con"
    confidence: float  # 0..1, how far the claim's polarity is from neutral


def stances(
    vectors: np.ndarray,
    motion: str,
    embedder_name: str = "e5-small-q4",
    offset: float = 0.0,
    lang: str | None = None,
) -> list[StanceGuess]:
    """The side each claim argues. ``offset`` recentres polarity (e.g. on a set's median)."""
    d = motion_direction(motion)
    out = []
    for p in polarity(vectors, embedder_name, lang) - offset:
        side = "pro" if p * d > 0 else "con"
        out.append(StanceGuess(side, float(min(1.0, abs(p) / 0.05))))
    return out


def anchor_texts() -> Sequence[str]:
    return (*POSITIVE, *NEGATIVE)
