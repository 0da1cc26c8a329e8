"""Rubric scores 1–5 from the speech's signals, each with a one-sentence reason quoting the student.

The scores are additive point rules over named signals (markers, supported claims, fallacies,
the learned quality estimate, relevance to the motion), so every point can be explained; the
reason names the deciding signal and quotes the sentence behind it. Thresholds were set by hand
on our own example speeches; ``banron eval judge`` measures the learned parts against human
labels.
"""

from __future__ import annotations

from dataclasses import dataclass

from banron.judge.fallacies import NAMES, Finding
from banron.judge.features import SpeechFeatures
from banron.judge.scorecard import ClaimCheck, DimensionScore

# Cosine (e5 query vectors) between speech and motion below which the speech is off the motion.
OFF_TOPIC = 0.78
GOOD_QUALITY = 3.0  # the quality model's estimate (1-5) from which an argument counts as well made


@dataclass(frozen=True)
class Signals:
    features: SpeechFeatures
    fallacies: list[Finding]
    claims: list[ClaimCheck]
    quality: float
    relevance: float | None
    lang: str


def quote(sentence: str, lang: str, limit: int = 60) -> str:
    s = " ".join(sentence.split())
    if len(s) > limit:
        s = s[: limit - 1].rstrip() + "…"
    return f"「{s}」" if lang == "ko" else f"“{s}”"


def _clip(x: float) -> int:
    return max(1, min(5, round(x)))


def score_all(sig: Signals) -> dict[str, DimensionScore]:
    return {
        "argument": argument(sig),
        "evidence": evidence(sig),
        "clash": clash(sig),
        "organization": organization(sig),
        "language": language(sig),
    }


def argument(sig: Signals) -> DimensionScore:
    f, ko = sig.features, sig.lang == "ko"
    points = 1.0 + min(2, len(f.reasons)) + (1 if sig.quality >= GOOD_QUALITY else 0)
    off_topic = sig.relevance is not None and sig.relevance < OFF_TOPIC
    points += 0 if off_topic else 1
    points -= min(2, len(sig.fallacies))
    score = _clip(points)
    if sig.fallacies:
        fal = sig.fallacies[0]
        name = NAMES[fal.type]["ko" if ko else "en"]
        reason = (
            f"{quote(fal.sentence, sig.lang)}에서 {name}의 오류가 보여 논리가 약해졌습니다."
            if ko
            else f"{quote(fal.sentence, sig.lang)} commits the {name} fallacy, which weakens the case."
        )
    elif off_topic:
        first = f.sentences[0] if f.sentences else ""
        reason = (
            f"{quote(first, sig.lang)}처럼 논제와의 연결이 분명하지 않습니다."
            if ko
            else f"{quote(first, sig.lang)} does not clearly bear on the motion."
        )
    elif f.reasons:
        # Quote the sentence that carries the reason ("…때문입니다"), not the claim before it.
        best = f.reasons[0]
        reason = (
            f"{quote(best, sig.lang)}처럼 주장에 이유를 붙였습니다."
            if ko
            else f"{quote(best, sig.lang)} gives a reason for the claim."
        )
        if score < 4:
            reason = (
                f"{quote(best, sig.lang)}에 이유가 있지만, 다른 주장은 이유 없이 단정합니다."
                if ko
                else f"{quote(best, sig.lang)} has a reason, but the other claims are bare assertions."
            )
    else:
        claim = sig.claims[0].text if sig.claims else (f.sentences[0] if f.sentences else "")
        reason = (
            f"{quote(claim, sig.lang)}라고 주장하지만 왜 그런지 이유(때문에, 따라서)가 없습니다."
            if ko
            else f"{quote(claim, sig.lang)} is asserted without a reason (because, therefore)."
        )
    return DimensionScore("argument", score, reason)


def evidence(sig: Signals) -> DimensionScore:
    f, ko = sig.features, sig.lang == "ko"
    claims = sig.claims or []
    backed = [c for c in claims if set(c.support) & {"number", "source", "example", "citation", "kb"}]
    share = len(backed) / len(claims) if claims else 0.0
    points = 1.0 + 2.0 * share
    points += 1 if (f.evidence or f.citations) else 0
    points += 1 if (f.numbers or f.examples) else 0
    points += 0.5 if any("kb" in c.support for c in claims) else 0
    score = _clip(points)
    if backed:
        c = backed[0]
        kinds = {"number": "수치", "source": "출처", "example": "사례", "citation": "인용", "kb": "자료"}
        kinds_en = {
            "number": "a figure",
            "source": "a source",
            "example": "an example",
            "citation": "a citation",
            "kb": "the knowledge base",
        }
        k = next(s for s in c.support if s in kinds)
        unbacked = [x for x in claims if x not in backed]
        if unbacked and score < 5:
            reason = (
                f"{quote(c.text, sig.lang)}는 {kinds[k]}로 뒷받침했지만 "
                f"{quote(unbacked[0].text, sig.lang)}에는 근거가 없습니다."
                if ko
                else f"{quote(c.text, sig.lang)} is backed by {kinds_en[k]}, but "
                f"{quote(unbacked[0].text, sig.lang)} has no support."
            )
        else:
            reason = (
                f"{quote(c.text, sig.lang)}처럼 {kinds[k]}로 주장을 뒷받침했습니다."
                if ko
                else f"{quote(c.text, sig.lang)} is backed by {kinds_en[k]}."
            )
    else:
        claim = claims[0].text if claims else (f.sentences[0] if f.sentences else "")
        reason = (
            f"{quote(claim, sig.lang)}를 뒷받침하는 통계, 출처, 사례가 없습니다."
            if ko
            else f"{quote(claim, sig.lang)} comes with no figure, source or example."
        )
    return DimensionScore("evidence", score, reason)


def clash(sig: Signals) -> DimensionScore:
    f, ko = sig.features, sig.lang == "ko"
    distorting = [x for x in sig.fallacies if x.type in ("straw_man", "ad_hominem")]
    points = 1.0
    if f.clash:
        points += 2 + (1 if len(f.clash) >= 2 else 0)
        points += 1 if (f.contrast or f.weighing) else 0
    elif f.contrast:
        points += 1
    points += 0.5 if f.weighing else 0
    points -= 2 * len(distorting)
    score = _clip(points)
    if distorting:
        x = distorting[0]
        reason = (
            f"{quote(x.sentence, sig.lang)}는 상대의 실제 주장이 아니라 "
            f"{'왜곡된 주장' if x.type == 'straw_man' else '사람'}을 공격합니다."
            if ko
            else f"{quote(x.sentence, sig.lang)} attacks "
            f"{'a distorted version of their case' if x.type == 'straw_man' else 'the person'}, "
            f"not their argument."
        )
    elif f.clash:
        reason = (
            f"{quote(f.clash[0], sig.lang)}에서 상대측 주장을 직접 다뤘습니다."
            if ko
            else f"{quote(f.clash[0], sig.lang)} engages the other side directly."
        )
        if not (f.contrast or f.weighing):
            reason = (
                f"{quote(f.clash[0], sig.lang)}에서 상대를 언급했지만 왜 틀렸는지는 보여 주지 않았습니다."
                if ko
                else f"{quote(f.clash[0], sig.lang)} mentions the other "
                f"side but does not show why they are wrong."
            )
    else:
        reason = (
            "상대측 주장(예: '상대측은 ~라고 했지만')을 한 번도 다루지 않았습니다."
            if ko
            else "The speech never takes on the other side's arguments (e.g. “They say…, but…”)."
        )
    return DimensionScore("clash", score, reason)


def organization(sig: Signals) -> DimensionScore:
    f, ko = sig.features, sig.lang == "ko"
    points = 1.0
    points += 1 if f.has_opening else 0
    points += min(2, len(f.signposts))
    points += 1 if f.has_closing else 0
    points -= 1 if f.n < 2 else 0
    points -= 1 if f.repeated else 0
    score = _clip(points)
    if f.n < 2:
        reason = (
            f"{quote(f.sentences[0] if f.sentences else '', sig.lang)} 한 문장뿐이라 흐름을 만들 수 없습니다."
            if ko
            else f"{quote(f.sentences[0] if f.sentences else '', sig.lang)} "
            f"is a single sentence: there is no structure yet."
        )
    elif f.signposts:
        reason = (
            f"{quote(f.signposts[0], sig.lang)}처럼 논점을 표시해 흐름이 분명합니다."
            if ko
            else f"{quote(f.signposts[0], sig.lang)} signposts the point, so the structure is easy to follow."
        )
        if not f.has_closing:
            reason = (
                f"{quote(f.signposts[0], sig.lang)}로 논점을 표시했지만 결론 문장이 없습니다."
                if ko
                else f"{quote(f.signposts[0], sig.lang)} signposts a "
                f"point, but there is no concluding sentence."
            )
    else:
        reason = (
            f"{quote(f.sentences[0], sig.lang)}로 시작해 '첫째, 둘째' 같은 논점 표시 없이 이어집니다."
            if ko
            else f"It opens with {quote(f.sentences[0], sig.lang)} "
            f"and runs on without signposts (first, second)."
        )
    return DimensionScore("organization", score, reason)


def language(sig: Signals) -> DimensionScore:
    f, ko = sig.features, sig.lang == "ko"
    points = 5.0
    points -= min(2, len(f.informal))
    points -= 1 if f.fillers >= 2 else 0
    points -= 1 if f.long_sentences else 0
    points -= 2 if f.insults else 0
    points -= 1 if f.repeated else 0
    points -= 1 if f.chars < 30 else 0
    score = _clip(points)
    if f.insults:
        reason = (
            f"{quote(f.insults[0], sig.lang)}의 모욕적 표현은 토론에서 감점됩니다."
            if ko
            else f"{quote(f.insults[0], sig.lang)} uses an insult, which costs marks in any debate."
        )
    elif f.informal:
        reason = (
            f"{quote(f.informal[0], sig.lang)}처럼 구어체·비격식 표현이 있습니다."
            if ko
            else f"{quote(f.informal[0], sig.lang)} is informal for a debate."
        )
    elif f.long_sentences:
        reason = (
            f"{quote(f.long_sentences[0], sig.lang)}처럼 한 문장이 너무 길어 듣는 사람이 따라가기 어렵습니다."
            if ko
            else f"{quote(f.long_sentences[0], sig.lang)} is too long to follow when spoken."
        )
    elif f.repeated:
        reason = "같은 문장을 되풀이했습니다." if ko else "A sentence is repeated almost word for word."
    else:
        flawed = {x.sentence for x in sig.fallacies}
        clean = [s for s in f.sentences if s not in flawed] or f.sentences
        best = max(clean, key=len) if clean else ""
        reason = (
            f"{quote(best, sig.lang)}처럼 격식에 맞고 간결하게 말했습니다."
            if ko
            else f"{quote(best, sig.lang)} is clear and suitably formal."
        )
    return DimensionScore("language", score, reason)
