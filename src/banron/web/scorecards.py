"""The scorecard pages' one door into the judge (``banron.judge``).

The judge scores each of the student's speeches (rubric 1-5 with reasons, fallacies, unsupported
claims, key points, a tip: ``SpeechJudge``) and renders them as a self-contained HTML report with a
radar chart and a progress chart (``report.to_html``). The web app only wires it: the student's
speeches go in, scorecards come out, cached by speech so a page is judged once. Judging runs on its
own worker thread (the first one in a process loads the judge's models: seconds), never on the
event loop; the rubric is the debate format's when the judge has one.

The end-of-debate verdict (``judge.adjudicate``: a winner with reasons from the flow, next steps)
is computed here too, on the same worker.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from banron.domain import Turn
from banron.runtime import Runtime
from banron.store.sqlite import DebateRecord

if TYPE_CHECKING:
    from banron.judge.rubric import Rubric
    from banron.judge.scorecard import Scorecard

MAX_PROGRESS = 30  # speeches in a student's progress report (the newest)


def available() -> bool:
    try:
        from banron.judge import report, speech  # noqa: F401
    except ImportError:
        return False
    return True


def rubric_for(format_id: str) -> Rubric:
    from banron.judge import rubric

    return rubric.load(format_id if format_id in rubric.available() else "free")


def student_speeches(record: DebateRecord, turns: Sequence[Turn]) -> list[Turn]:
    """The turns the judge scores: the student's speeches (not cross-examination questions/answers)."""
    return [t for t in turns if t.speaker == "student" and t.part == "speech"]


class Scorecards:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="banron-judge")
        self._cache: dict[str, Scorecard] = {}
        self._lock = threading.Lock()
        self._judges: dict[str, Any] = {}  # rubric id -> SpeechJudge (worker thread only)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)

    def _judge(self, record: DebateRecord) -> Any:
        from banron.judge.speech import SpeechJudge

        rb = rubric_for(record.format)
        key = f"{rb.id}|{','.join(record.kbs)}"
        if key not in self._judges:
            self._judges[key] = SpeechJudge(
                self.rt.embedder,
                self.rt.tokenizer,
                self.rt.cache,
                rubric_name=rb.id,
                retriever=self.rt.retriever,
                kbs=record.kbs,
            )
        return self._judges[key]

    def _score(self, items: list[tuple[DebateRecord, Turn]]) -> list[Scorecard]:
        from banron.judge.speech import SpeechInput

        cards = []
        for record, turn in items:
            digest = hashlib.sha256(
                f"{record.format}\x1f{record.motion_text}\x1f{turn.text}".encode()
            ).hexdigest()
            key = f"{record.id}#{turn.n}#{digest[:16]}"
            with self._lock:
                card = self._cache.get(key)
            if card is None:
                speech = SpeechInput(
                    id=f"{record.id}#{turn.n}",
                    motion=record.motion_text,
                    side=record.student_side.value,
                    text=turn.text,
                    date=record.created_at[:16].replace("T", " "),
                )
                card = self._judge(record).judge(speech)
                with self._lock:
                    self._cache[key] = card
            cards.append(card)
        return cards

    async def for_debate(self, record: DebateRecord, turns: Sequence[Turn]) -> list[Scorecard]:
        items = [(record, t) for t in student_speeches(record, turns)]
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self._score, items)

    def _verdict(self, record: DebateRecord, turns: Sequence[Turn], lang: str) -> Any:
        from banron.judge.adjudicate import adjudicate

        return adjudicate(
            turns, self._judge(record), motion=record.motion_text, student_side=record.student_side, lang=lang
        )

    async def verdict(self, record: DebateRecord, turns: Sequence[Turn], lang: str) -> dict[str, Any] | None:
        """Who won and why, once both sides have spoken; None before that."""
        if {t.side for t in turns if t.part == "speech"} != {
            record.student_side,
            record.student_side.opposite,
        }:
            return None
        loop = asyncio.get_running_loop()
        v = await loop.run_in_executor(self.executor, self._verdict, record, list(turns), lang)
        return {
            "winner": v.winner.label(lang),
            "student_won": v.winner is record.student_side,
            "points": " · ".join(f"{s.label(lang)} {p:.1f}" for s, p in v.points.items()),
            "reasons": v.reasons,
            "next_steps": v.next_steps,
        }

    async def for_student(self, debates: Sequence[tuple[DebateRecord, Sequence[Turn]]]) -> list[Scorecard]:
        """Every speech of a student's debates (oldest first, the newest MAX_PROGRESS)."""
        ordered = sorted(debates, key=lambda d: d[0].created_at)
        items = [(r, t) for r, turns in ordered for t in student_speeches(r, turns)][-MAX_PROGRESS:]
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self._score, items)


def report_html(cards: Sequence[Scorecard], format_id: str, lang: str, title: str) -> str:
    """The judge's self-contained report (no script; inline styles and SVG charts)."""
    from banron.judge import report

    return report.to_html(list(cards), rubric_for(format_id), lang=lang, title=title)


def card_view(card: Scorecard, rb: Rubric, lang: str) -> dict[str, Any]:
    """What the scorecard page shows of one card, in the page's language."""
    from banron.judge.fallacies import NAMES
    from banron.judge.rubric import DIMENSIONS

    return {
        "id": card.id,
        "overall": card.overall,
        "overall_exact": round(card.overall_exact, 2),
        "dimensions": [
            {"name": rb[d].name(lang), "score": card.score(d), "reason": card.scores[d].reason}
            for d in DIMENSIONS
        ],
        "fallacies": [
            {"name": NAMES[f.type]["ko" if lang == "ko" else "en"], "sentence": f.sentence}
            for f in card.fallacies
        ],
        "unsupported": card.unsupported_claims,
        "key_points": list(card.key_points),
        "feedback": card.feedback,
        "text": card.text,
    }
