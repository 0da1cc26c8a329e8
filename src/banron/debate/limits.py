"""Speech limits: a soft warning when a speech runs over, a cut-off when it runs well over.

Typed speeches are measured in words (Korean: 어절, the space-separated units), the phase's
``words``. Up to 15% over is allowed with a warning, as a chair lets a speaker finish a sentence;
beyond that the speech is cut at the last sentence that fits, and the student is told what was not
heard. Clock time (a student who took longer than the phase's ``time_s`` to submit) only ever
warns: typing is slower than speaking, and a late speech is still the student's work.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from banron.debate.formats import Phase
from banron.kb.chunking import split_sentences

GRACE = 0.15  # share over the word limit tolerated with a warning


@dataclass(frozen=True)
class Limited:
    text: str
    words: int
    warnings: list[str] = field(default_factory=list)
    cut: bool = False


def count_words(text: str) -> int:
    return len(text.split())


def apply_limits(text: str, phase: Phase, lang: str, elapsed_s: float | None = None) -> Limited:
    """The speech as the judge hears it, with the warnings the chair would give."""
    words = count_words(text)
    warnings: list[str] = []
    hard = int(phase.words * (1 + GRACE))
    cut = False
    if words > hard:
        kept = ""
        for _start, end in split_sentences(text):
            candidate = text[:end]
            if count_words(candidate) > hard:
                break
            kept = candidate
        if not kept:  # one enormous sentence: cut at the word limit itself
            kept = " ".join(text.split()[:hard])
        dropped = words - count_words(kept)
        text, cut = kept.rstrip(), True
        warnings.append(
            f"{phase.words}어절 제한을 넘어 마지막 {dropped}어절은 잘렸습니다."
            if lang == "ko"
            else f"Over the {phase.words}-word limit: the last {dropped} words were cut off."
        )
    elif words > phase.words:
        warnings.append(
            f"{phase.words}어절 제한을 {words - phase.words}어절 넘었습니다."
            if lang == "ko"
            else f"{words - phase.words} words over the {phase.words}-word limit."
        )
    if elapsed_s is not None and elapsed_s > phase.time_s:
        over = int(elapsed_s - phase.time_s)
        warnings.append(
            f"제한 시간 {phase.time_s}초를 {over}초 넘겼습니다."
            if lang == "ko"
            else f"{over} s over the {phase.time_s} s time limit."
        )
    return Limited(text=text, words=count_words(text), warnings=warnings, cut=cut)
