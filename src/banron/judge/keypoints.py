"""Key points: the phrases a speech is about, and matching arguments to known key points.

**Key phrases** (``key_phrases``). Candidates are noun phrases: in Korean, runs of nouns found by
mecab-ko with particles and endings left out ("학교폭력 예방", "수업 집중력"), so "스마트폰을",
"스마트폰이" and "스마트폰" are one candidate; in English, runs of non-stopwords. Candidates are
ranked by maximal marginal relevance over e5 vectors: close to the speech as a whole, far from
phrases already picked (so three key points are three different ideas), with a bonus for
phrases the speaker repeats.

**Key point matching** (``KeyPointMatcher``). Which known argument (a key point) does a
student's argument make? Scored as the cosine of e5 vectors after removing the direction the
key points of one motion share (what makes them all "about school phones" is no evidence of a
match), plus the share of the key point's content words found in the argument, each word weighted
by its rarity (IDF) among the texts being matched, so "ban" in a set about bans counts for little.
An argument's confidence is its best score minus half the runner-up's, so an argument torn between
two key points ranks low, plus a little for standing out among the arguments matched to the same
key point (a per-key-point z-score). The four constants were chosen by a grid search on IBM
ArgKP-2021's train and dev splits together (28 topics; test untouched; grid CENTER 0.9–1.0,
LEXICAL 0.3–1.0, MARGIN 0.25–0.75, KP_RELATIVE 0–0.05, plain overlap 0–0.1), maximising mean strict
mAP over their topic-stance groups: 0.750 with the previous plain-overlap scorer (LEXICAL 0.3, no
IDF, no z-score), 0.767 now (train 0.761, dev 0.803 — ``eval_argkp(..., split="dev")`` in
``banron.evaluation.judge``); measured once afterwards, test: strict 0.826 / relaxed 0.897
(``banron eval judge --task argkp``; previously 0.791 / 0.871). A pairwise logistic model over a
dozen such features did no better on dev than the hand-set score, so nothing is trained: only
these four numbers come from IBM's (CDLA-Sharing) data. The same matcher can link a student's
claims to the arguments already made in a debate's flow.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from banron.kb.tokenize import LexicalTokenizer, english_tokens

_NOUN = frozenset({"NNG", "NNP", "SL", "SN", "NR", "XR"})
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_EN_STOP = _words(
    """a an the and or but if then than so of to in on at by for with from into about as is are was were be
    been being it its this that these those there here which who whom whose what when where why how i you he
    she we they me him her us them my your his our their not no do does did have has had can could should
    would will shall may might must also very more most such only just any some all each other own same too
    because since therefore thus however although though while even first second third finally think believe
    thank thanks today point points argue argument lot lots many much way ways things thing make makes made
    get gets got really show shows showed cause causes caused help helps helped allow allows give gives
    take takes keep keeps need needs want wants use uses used lead leads reduce reduces increase increases
    improve improves break breaks every"""
)
# Korean nouns that carry no topic of their own in a debate speech.
_KO_STOP = _words(
    """것 수 등 때 점 측 저 저희 우리 여러분 분 이 그 문제 생각 말씀 이유 근거 주장 입장 찬성 반대 토론
    토론자 상대 상대측 오늘 결론 첫째 둘째 셋째 번째 먼저 다음 마지막 경우 정도 때문 이상 감사"""
)


@dataclass(frozen=True)
class KeyPhrase:
    text: str
    score: float
    count: int


class _Tagger:
    def __init__(self) -> None:
        import mecab

        self._tagger = mecab.MeCab()
        self._lock = threading.Lock()

    def parse(self, text: str) -> list[Any]:
        with self._lock:
            return list(self._tagger.parse(text))


@lru_cache(maxsize=1)
def _tagger() -> _Tagger:
    return _Tagger()


def candidates(text: str, max_words: int = 3) -> dict[str, int]:
    """Noun-phrase candidates of ``text`` and how often each occurs (Korean and English)."""
    counts: dict[str, int] = {}

    def add(words: list[str]) -> None:
        # Every contiguous sub-run of up to max_words words is a candidate ("학교폭력 예방" and "예방"),
        # except a bare number or a run of stopwords.
        for i in range(len(words)):
            for j in range(i + 1, min(len(words), i + max_words) + 1):
                part = words[i:j]
                phrase = " ".join(part)
                if len(phrase) < 2 or all(
                    w.isdigit() or w in _KO_STOP or w.lower() in _EN_STOP for w in part
                ):
                    continue
                counts[phrase] = counts.get(phrase, 0) + 1

    run: list[str] = []
    last_end = -1
    for m in _tagger().parse(text):
        pos = m.feature.pos
        surface = m.surface
        head = pos.split("+", 1)[0]
        if head in _NOUN and surface not in _KO_STOP:
            if head == "SL" and surface.lower() in _EN_STOP:  # mecab tags English words SL
                add(run)
                run = []
                last_end = m.span.end
                continue
            if run and m.span.start == last_end:
                run[-1] += surface  # "학교"+"폭력" written together stays one word
            else:
                run.append(surface)
            last_end = m.span.end
        else:
            add(run)
            run = []
            last_end = m.span.end
    add(run)
    return counts


def key_phrases(
    text: str,
    embed: Callable[[Sequence[str]], np.ndarray],
    k: int = 3,
    diversity: float = 0.5,
    max_candidates: int = 24,
) -> list[KeyPhrase]:
    """The ``k`` phrases that best summarise ``text``, most representative first.

    ``embed`` maps texts to L2-normalised vectors (the judge passes cached e5 ``query:``
    vectors). The speech itself is embedded together with the candidates.
    """
    counts = candidates(text)
    if not counts:
        return []
    # Pre-rank so only a few dozen candidates are embedded: phrases of frequent words first,
    # two-word phrases ("사이버 폭력") before their parts.
    words: dict[str, int] = {}
    for phrase, n in counts.items():
        if " " not in phrase:
            words[phrase] = n

    def prior(p: str) -> float:
        parts = p.split()
        return sum(words.get(w, 1) for w in parts) / len(parts) + 0.6 * min(len(parts) - 1, 1)

    pool = sorted(counts, key=lambda p: (-prior(p), -len(p)))[:max_candidates]
    vecs = embed([" ".join(text.split()), *pool])
    doc, cand = vecs[0], vecs[1:]
    # Small bonuses for repetition and for a complete phrase over its head word.
    relevance = (
        cand @ doc
        + 0.02 * np.log1p([counts[p] for p in pool])
        + 0.015 * np.array([min(len(p.split()) - 1, 2) for p in pool])
    )
    chosen: list[int] = []
    while len(chosen) < min(k, len(pool)):
        best, best_score = -1, -np.inf
        for i in range(len(pool)):
            if i in chosen or any(pool[i] in pool[j] or pool[j] in pool[i] for j in chosen):
                continue
            redundancy = max((float(cand[i] @ cand[j]) for j in chosen), default=0.0)
            score = (1 - diversity) * relevance[i] - diversity * redundancy
            if score > best_score:
                best, best_score = i, score
        if best < 0:
            break
        chosen.append(best)
    return [KeyPhrase(pool[i], float(relevance[i]), counts[pool[i]]) for i in chosen]


# -- matching arguments to key points -------------------------------------------------------------

CENTER = 0.9  # share of the key points' mean vector removed before comparing
MARGIN = 0.5  # confidence = best - MARGIN * runner-up (+ KP_RELATIVE * z)
LEXICAL = 0.5  # weight of the IDF-weighted share of the key point's content words in the argument
KP_RELATIVE = 0.02  # weight of the match's z-score among all arguments' scores for that key point


@dataclass(frozen=True)
class Match:
    argument: int  # index into the arguments
    key_point: int  # index into the key points
    score: float  # the match's own score
    confidence: float  # best minus a share of the runner-up: ranks matches across arguments


class KeyPointMatcher:
    """Match each argument to its most likely key point (all of one motion, usually one side)."""

    def __init__(self, tokenizer: LexicalTokenizer | None = None) -> None:
        self.tokenizer = tokenizer

    def _tokens(self, text: str) -> set[str]:
        if self.tokenizer is not None:
            return set(self.tokenizer.tokens(text))
        return set(english_tokens(text))

    def scores(
        self,
        arg_vectors: np.ndarray,
        kp_vectors: np.ndarray,
        arguments: Sequence[str],
        key_points: Sequence[str],
        center_on: np.ndarray | None = None,
    ) -> np.ndarray:
        """Score matrix, arguments x key points. ``center_on``: the vectors whose mean is removed
        (default: the key points themselves; pass all key points of the motion, both sides)."""
        mu = (center_on if center_on is not None else kp_vectors).mean(axis=0)
        a = arg_vectors - CENTER * mu
        k = kp_vectors - CENTER * mu
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
        k = k / np.linalg.norm(k, axis=1, keepdims=True)
        s = a @ k.T
        atoks = [self._tokens(t) for t in arguments]
        ktoks = [self._tokens(t) for t in key_points]
        idf = _idf([*atoks, *ktoks])
        for j, kt in enumerate(ktoks):
            if kt:
                total = sum(idf[w] for w in kt)
                s[:, j] += LEXICAL * np.array([sum(idf[w] for w in at & kt) / total for at in atoks])
        return s

    def match(self, scores: np.ndarray) -> list[Match]:
        """The best key point of each argument (one row of ``scores`` per argument)."""
        out = []
        # How far each score stands above the other arguments' scores for the same key point.
        if len(scores) > 1:
            z = (scores - scores.mean(axis=0)) / (scores.std(axis=0) + 1e-6)
        else:
            z = np.zeros_like(scores)
        for i, row in enumerate(scores):
            if not len(row):
                continue
            j = int(np.argmax(row))
            runner_up = float(np.max(np.delete(row, j))) if len(row) > 1 else 0.0
            confidence = row[j] - MARGIN * runner_up + KP_RELATIVE * z[i, j]
            out.append(Match(i, j, float(row[j]), float(confidence)))
        return out


def _idf(docs: Sequence[set[str]]) -> dict[str, float]:
    """Smoothed inverse document frequency of each token over ``docs`` (always >= 1)."""
    df: dict[str, int] = {}
    for d in docs:
        for w in d:
            df[w] = df.get(w, 0) + 1
    n = len(docs)
    return {w: float(np.log((n + 1) / (c + 1)) + 1) for w, c in df.items()}
