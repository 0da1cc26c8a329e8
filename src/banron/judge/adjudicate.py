"""End-of-debate adjudication: who won and why, grounded in the flow.

A coach decides a round on its clashes, not on style alone. So the verdict combines three things,
each visible in the reasons it gives:

- **clashes**: every argument thread both sides spoke in goes to the side with the last answer in
  it, unless that answer was unsupported while the other side's last word was supported (a bare
  assertion does not take a clash from evidence);
- **dropped arguments**: a claim the other side never answered although it spoke again stands,
  and counts for the side that made it;
- **the speeches themselves**: each speech is scored on the rubric (``speech.SpeechJudge``); the
  side's mean overall score breaks what the flow leaves even.

Points: 2 per clash won, 1 per opponent's dropped claim, plus the mean rubric score (1..5). The
weights are hand-set and stated here so a teacher can check the arithmetic in the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from banron.debate.flow import Entry, Flow, Thread
from banron.domain import Side, Turn
from banron.judge.rubric import DIMENSIONS, Rubric
from banron.judge.scorecard import Scorecard, SideTotals, side_totals
from banron.judge.speech import SpeechInput, SpeechJudge

CLASH_POINTS = 2.0
DROPPED_POINTS = 1.0


@dataclass(frozen=True)
class Clash:
    topic: str  # the claim that opened the thread
    winner: Side
    last: Entry  # the answer that decided it
    supported: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "winner": self.winner.value,
            "decided_by": self.last.id,
            "supported": self.supported,
        }


@dataclass
class Adjudication:
    winner: Side
    points: dict[Side, float]
    clashes: list[Clash]
    dropped: dict[Side, list[Entry]]  # claims of that side the other side never answered
    totals: dict[str, SideTotals]
    cards: list[tuple[Turn, Scorecard]]
    reasons: list[str]
    next_steps: list[str]
    lang: str = "ko"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "winner": self.winner.value,
            "points": {s.value: round(p, 2) for s, p in self.points.items()},
            "reasons": self.reasons,
            "next_steps": self.next_steps,
            "clashes": [c.to_dict() for c in self.clashes],
            "dropped": {s.value: [e.id for e in es] for s, es in self.dropped.items()},
            "totals": {
                side: {
                    "speeches": t.speeches,
                    "totals": t.totals,
                    "means": t.means,
                    "overall": t.overall_mean,
                }
                for side, t in self.totals.items()
            },
            "speeches": [{"turn": t.n, "phase": t.phase, **card.to_dict()} for t, card in self.cards],
        }

    def to_markdown(self) -> str:
        return "\n".join(_md_lines(self))


def _md_lines(v: Adjudication) -> list[str]:
    ko = v.lang == "ko"
    lines = [f"## {'판정' if ko else 'Verdict'}: {v.winner.label(v.lang)}", ""]
    lines += [f"- {r}" for r in v.reasons]
    lines += ["", f"### {'다음에 연습할 것' if ko else 'Next steps'}", ""]
    lines += [f"{i}. {s}" for i, s in enumerate(v.next_steps, 1)]
    return lines


def _supported(entry: Entry, turn_of: dict[int, Turn], card_of: dict[int, Scorecard]) -> bool:
    """banron's claims stand on cited passages; a student's on the judge's claim check."""
    turn = turn_of[entry.turn_n]
    if turn.citations:
        return True
    card = card_of.get(entry.turn_n)
    if card is None:
        return False
    text = " ".join(entry.claim.text.split())
    return any(c.supported for c in card.claims if " ".join(c.text.split()) == text)


def decide_clash(thread: Thread, turn_of: dict[int, Turn], card_of: dict[int, Scorecard]) -> Clash:
    last = thread.entries[-1]
    supported = _supported(last, turn_of, card_of)
    winner = last.side
    if not supported:
        others = [e for e in thread.entries if e.side is not last.side]
        if others and _supported(others[-1], turn_of, card_of):
            winner = others[-1].side  # evidence beats a bare last word
    root = thread.entries[0]
    return Clash(topic=root.claim.text, winner=winner, last=last, supported=supported)


def _short(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def adjudicate(
    turns: Sequence[Turn],
    judge: SpeechJudge,
    *,
    motion: str,
    student_side: Side,
    lang: str,
) -> Adjudication:
    """The verdict on a finished (or stopped) debate."""
    speeches = [t for t in turns if t.part == "speech" and t.text.strip()]
    cards = [
        (t, judge.judge(SpeechInput(id=f"t{t.n}", motion=motion, side=t.side.value, text=t.text)))
        for t in speeches
    ]
    card_of = {t.n: c for t, c in cards}
    turn_of = {t.n: t for t in turns}
    flow = Flow.from_turns(turns)
    clashes = [
        decide_clash(th, turn_of, card_of)
        for th in flow.threads()
        if {e.side for e in th.entries} == set(Side)
    ]
    dropped = {s: [e for e in flow.dropped() if e.side is s] for s in Side}
    totals = side_totals(c for _, c in cards)
    points: dict[Side, float] = {}
    for s in Side:
        won = sum(1 for c in clashes if c.winner is s)
        mean = totals[s.value].overall_mean if s.value in totals else 0.0
        points[s] = CLASH_POINTS * won + DROPPED_POINTS * len(dropped[s]) + mean
    # Ties go to the side that dropped less of the other's case, then to the better speeches.
    winner = max(Side, key=lambda s: (points[s], -len(dropped[s.opposite]), points[s]))
    reasons = _reasons(winner, clashes, dropped, totals, judge.rubric, lang)
    steps = _next_steps(student_side, clashes, dropped, [c for t, c in cards if t.side is student_side],
                        judge.rubric, lang)  # fmt: skip
    return Adjudication(winner, points, clashes, dropped, totals, cards, reasons, steps, lang)


def _side(s: Side, lang: str) -> str:
    return f"{s.label(lang)} 측" if lang == "ko" else f"the {s.label(lang)}"


def _reasons(
    winner: Side,
    clashes: list[Clash],
    dropped: dict[Side, list[Entry]],
    totals: dict[str, SideTotals],
    rubric: Rubric,
    lang: str,
) -> list[str]:
    ko = lang == "ko"
    out = []
    won = [c for c in clashes if c.winner is winner]
    lost = [c for c in clashes if c.winner is not winner]
    for c in won[:2]:
        why = (
            ("근거를 갖춘 마지막 답변" if c.supported else "상대가 답하지 못한 마지막 반박")
            if ko
            else ("the last, supported answer" if c.supported else "the last answer, left unanswered")
        )
        out.append(
            f"쟁점 “{_short(c.topic)}”은 {_side(winner, lang)}이 가져갔습니다({why})."
            if ko
            else f"The clash on “{_short(c.topic)}” went to {_side(winner, lang)} ({why})."
        )
    if lost:
        out.append(
            f"{_side(winner.opposite, lang)}은 쟁점 {len(lost)}개에서 앞섰습니다."
            if ko
            else f"{_side(winner.opposite, lang).capitalize()} won {len(lost)} clash(es)."
        )
    left = dropped[winner]  # the winner's claims the loser never answered
    if left:
        names = ", ".join(f"“{_short(e.claim.text, 40)}”" for e in left[:2])
        out.append(
            f"{_side(winner.opposite, lang)}은 {names} 등 {len(left)}개 논점에 답하지 않았습니다."
            if ko
            else f"{_side(winner.opposite, lang).capitalize()} never answered {len(left)} point(s), "
            f"e.g. {names}."
        )
    if winner.value in totals and winner.opposite.value in totals:
        a, b = totals[winner.value], totals[winner.opposite.value]
        best = max(DIMENSIONS, key=lambda d: a.means[d] - b.means[d])
        if a.means[best] > b.means[best]:
            out.append(
                f"발언 평가에서는 {rubric[best].name(lang)} 점수가 더 높았습니다"
                f"({a.means[best]:.1f} 대 {b.means[best]:.1f})."
                if ko
                else f"On the rubric its {rubric[best].name(lang)} scored higher "
                f"({a.means[best]:.1f} vs {b.means[best]:.1f})."
            )
    if not out:
        out.append(
            "양측의 쟁점이 맞서지 않아 발언 평가로 판정했습니다."
            if ko
            else "No clash was joined; decided on the speeches."
        )
    return out


def _next_steps(
    student: Side,
    clashes: list[Clash],
    dropped: dict[Side, list[Entry]],
    cards: list[Scorecard],
    rubric: Rubric,
    lang: str,
) -> list[str]:
    ko = lang == "ko"
    steps = []
    unanswered = dropped[student.opposite]  # the opponent's claims the student let stand
    if unanswered:
        e = unanswered[0]
        steps.append(
            f"상대의 “{_short(e.claim.text, 50)}”에 답하지 않았습니다. "
            "반론에서 상대 논점을 하나씩 짚어 답하세요."
            if ko
            else f"You left “{_short(e.claim.text, 50)}” unanswered: "
            "in rebuttal, take the other side's points one by one."
        )
    if cards:
        means = {d: sum(c.score(d) for c in cards) / len(cards) for d in DIMENSIONS}
        weakest = min(DIMENSIONS, key=lambda d: (means[d], -rubric.weights[d]))
        tip = next((c.feedback for c in cards if c.feedback), "")
        steps.append(
            f"가장 약한 항목은 {rubric[weakest].name(lang)}({means[weakest]:.1f}/5)입니다. {tip}".strip()
            if ko
            else f"Your weakest dimension was {rubric[weakest].name(lang)} ({means[weakest]:.1f}/5). "
            f"{tip}".strip()
        )
        fallacies = [f for c in cards for f in c.fallacies]
        if fallacies:
            f = fallacies[0]
            steps.append(
                f"논리적 오류({f.type})가 있었습니다: “{_short(f.sentence, 60)}” — 근거로 바꿔 말해 보세요."
                if ko
                else f"Watch for fallacies ({f.type}): “{_short(f.sentence, 60)}” — restate it with evidence."
            )
    lost = [c for c in clashes if c.winner is not student and not c.supported]
    if len(steps) < 3 and lost:
        steps.append(
            "쟁점마다 수치나 출처를 하나씩 준비해 마지막 답변을 근거로 마무리하세요."
            if ko
            else "Prepare one figure or source per clash so your last word in it is supported."
        )
    return steps[:3]
