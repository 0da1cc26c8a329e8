"""The debate engine: whose turn it is, what banron says in each phase, and nothing lost on the way.

A debate is a format (a list of phases) walked slot by slot. A slot is one turn: a speech, or in
cross-examination a set of questions and then their answers. The position in the debate is never
stored on its own: it is the number of completed turns, so a debate resumed after a crash picks up
exactly where its last committed turn left it. A turn is committed (text, citations, flow claims)
in one transaction before the next one starts; a speech still streaming when the process dies is
simply spoken again on resume.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Literal

from banron.debate.claims import extract_claims
from banron.debate.flow import Flow, Linker
from banron.debate.formats import Format, Phase, get_format
from banron.debate.limits import apply_limits
from banron.debate.opponent import Opponent, Speech
from banron.debate.phases import Part, PhaseSpeaker
from banron.domain import Claim, Lang, Motion, Side, Turn
from banron.kb.chunking import split_sentences
from banron.kb.embed import prefetch_queries, query_vectors
from banron.store import DebateRecord, DebateStoreProtocol

if TYPE_CHECKING:
    from banron.runtime import Runtime

# A draft ending in one of these has finished its last sentence (read_ahead embeds it).
_SENTENCE_ENDS = frozenset(".?!…。？！\"'”’)")


class TurnError(RuntimeError):
    """A turn asked for out of order (the student speaking in banron's slot, or after the end)."""


@dataclass(frozen=True)
class Slot:
    index: int  # 0-based position of the turn in the debate
    round: int  # how many times the format's phases have cycled (free sparring)
    phase: Phase
    part: Part
    side: Side
    speaker: Literal["student", "banron"]


def slot_at(fmt: Format, k: int, student_side: Side, exhibition: bool = False) -> Slot | None:
    """The k-th turn's slot, or None once the format is over."""
    index, i = 0, 0
    while True:
        phase = fmt.phase_at(i)
        if phase is None:
            return None
        asker = phase.side_of_speaker(student_side)
        parts: list[tuple[Part, Side]] = (
            [("question", asker), ("answer", asker.opposite)]
            if phase.kind == "cross_examination"
            else [("speech", asker)]
        )
        for part, side in parts:
            if index == k:
                speaker: Literal["student", "banron"] = (
                    "banron" if exhibition or side is not student_side else "student"
                )
                return Slot(k, i // len(fmt.phases), phase, part, side, speaker)
            index += 1
        i += 1


def build_opponent(rt: Runtime, motion: Motion, side: Side, kbs: Sequence[str]) -> Opponent:
    """banron on ``side``: restricted to the motion's passages when the knowledge base labels them."""
    motion_filter = motion.id if any(rt.index.stance_counts(k, motion.id) for k in kbs) else None
    return Opponent(
        retriever=rt.retriever,
        motion=motion,
        side=side,
        kbs=list(kbs),
        settings=rt.settings.debate,
        llm=rt.llm(),
        motion_filter=motion_filter,
        temperature=rt.settings.llm.temperature,
        max_tokens=rt.settings.llm.max_tokens,
    )


def _linker(rt: Runtime) -> Linker:
    """A debate's claim linker over the runtime's embedder (its memory of recent queries shared)."""
    return Linker(
        rt.tokenizer, partial(query_vectors, rt.embedder), warm=partial(prefetch_queries, rt.embedder)
    )


@dataclass
class DebateEngine:
    fmt: Format
    motion: Motion
    student_side: Side
    lang: Lang
    speakers: dict[Side, PhaseSpeaker]  # banron's side (both sides in an exhibition)
    linker: Linker
    store: DebateStoreProtocol | None = None
    record: DebateRecord | None = None
    turns: list[Turn] = field(default_factory=list)
    exhibition: bool = False

    # -- creating and resuming -------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        rt: Runtime,
        *,
        fmt: Format,
        motion: Motion,
        student_side: Side,
        lang: Lang,
        kbs: Sequence[str],
        store: DebateStoreProtocol | None,
        exhibition: bool = False,
        owner: str | None = None,
    ) -> DebateEngine:
        sides = list(Side) if exhibition else [student_side.opposite]
        speakers = {s: PhaseSpeaker(build_opponent(rt, motion, s, kbs)) for s in sides}
        record = None
        if store is not None:
            record = store.create_debate(
                motion_id=motion.id,
                motion_text=motion.text,
                student_side=student_side,
                kbs=list(kbs),
                format=fmt.id,
                lang=lang,
                motion=motion,
                exhibition=exhibition,
                owner=owner,
            )
        linker = _linker(rt)
        return cls(fmt, motion, student_side, lang, speakers, linker, store, record, [], exhibition)

    @classmethod
    def resume(cls, rt: Runtime, store: DebateStoreProtocol, debate_id: str) -> DebateEngine:
        record = store.get_debate(debate_id)
        if record is None:
            raise KeyError(debate_id)
        motion = record.motion or Motion(id=record.motion_id, text=record.motion_text, lang="ko")
        lang: Lang = "en" if (record.lang or motion.lang) == "en" else "ko"
        sides = list(Side) if record.exhibition else [record.student_side.opposite]
        speakers = {s: PhaseSpeaker(build_opponent(rt, motion, s, record.kbs)) for s in sides}
        turns = store.turns(debate_id)
        for t in turns:  # evidence already cited stays "used": banron does not repeat itself
            for c in t.citations:
                if t.side in speakers:
                    speakers[t.side].opp.used.add(c.passage_id)
        linker = _linker(rt)
        return cls(
            get_format(record.format),
            motion,
            record.student_side,
            lang,
            speakers,
            linker,
            store,
            record,
            turns,
            record.exhibition,
        )

    # -- where we are ----------------------------------------------------------------------------
    @property
    def banron_side(self) -> Side:
        return self.student_side.opposite

    @property
    def slot(self) -> Slot | None:
        return slot_at(self.fmt, len(self.turns), self.student_side, self.exhibition)

    @property
    def finished(self) -> bool:
        return self.slot is None

    @property
    def flow(self) -> Flow:
        return Flow.from_turns(self.turns)

    def _commit(self, turn: Turn) -> None:
        if self.store is not None and self.record is not None:
            self.store.add_turn(self.record.id, turn)
            if self.slot_after(turn) is None:
                self.store.set_status(self.record.id, "finished")
        self.turns.append(turn)

    def slot_after(self, turn: Turn) -> Slot | None:
        return slot_at(self.fmt, turn.n, self.student_side, self.exhibition)

    def end(self) -> None:
        """The student stops here (free sparring has no last phase)."""
        if self.store is not None and self.record is not None:
            self.store.set_status(self.record.id, "finished")

    # -- turns -----------------------------------------------------------------------------------
    def submit(self, text: str, elapsed_s: float | None = None) -> Turn:
        """The student's turn in the current slot: limited, its claims extracted and linked, stored."""
        slot = self.slot
        if slot is None:
            raise TurnError("the debate is over")
        if slot.speaker != "student":
            raise TurnError(f"it is banron's turn ({slot.phase.id})")
        text = text.strip()
        if not text:
            raise ValueError("empty speech")
        limited = apply_limits(text, slot.phase, self.lang, elapsed_s)
        n = len(self.turns) + 1
        claims = []
        if slot.part == "speech":
            claims = self.linker.link(self._claims_in(limited.text, n), slot.side, self.flow)
        turn = Turn(
            n=n,
            speaker="student",
            side=slot.side,
            lang=self.lang,
            text=limited.text,
            claims=claims,
            phase=slot.phase.id,
            part=slot.part,
            warnings=limited.warnings,
        )
        self._commit(turn)
        self.linker.prefetch(claims)  # a first turn's claims were not linked: banron's search needs them
        return turn

    def _claims_in(self, text: str, n: int) -> list[Claim]:
        """The claims banron answers in ``text`` as the student's turn ``n``, not yet linked."""
        opp = next(iter(self.speakers.values())).opp
        limit = opp.settings.max_claims + 1
        return extract_claims(text, opp.retriever.tokenizer, limit=limit, prefix=f"t{n}c")

    def read_ahead(self, draft: str) -> list[Claim] | None:
        """The claims banron would answer if the student submitted ``draft`` now, their vectors
        started in the background; nothing is stored. None when it is not the student's turn.

        A student writes for minutes before submitting, and the web page sends what is written so
        far. Embedding those claims then means the submit finds them done: linking them into the
        flow and searching against them no longer waits for the encoder while the student does.
        A sentence still being typed (the draft does not end a sentence) is listed but not
        embedded: it will change. A sentence changed after the draft is embedded at submit.
        """
        slot = self.slot
        if slot is None or slot.speaker != "student":
            return None
        text = apply_limits(draft, slot.phase, self.lang).text.strip() if draft.strip() else ""
        if slot.part != "speech" or not text:
            return []
        claims = self._claims_in(text, len(self.turns) + 1)
        spans = split_sentences(text)
        typing = "" if text[-1] in _SENTENCE_ENDS else " ".join(text[spans[-1][0] : spans[-1][1]].split())
        self.linker.prefetch([c for c in claims if c.text != typing])
        return claims

    def speak(self) -> Iterator[str | Turn]:
        """banron's turn in the current slot: text pieces as they are written, then the stored Turn."""
        slot = self.slot
        if slot is None:
            raise TurnError("the debate is over")
        if slot.speaker != "banron":
            raise TurnError(f"it is the student's turn ({slot.phase.id})")
        n = len(self.turns) + 1
        speaker = self.speakers[slot.side]
        result: Speech | None = None
        for item in speaker.speak(slot.phase, slot.part, self.lang, self.turns, self.flow, f"t{n}c"):
            if isinstance(item, Speech):
                result = item
            else:
                yield item
        assert result is not None
        limited = apply_limits(result.text, slot.phase, self.lang)
        turn = Turn(
            n=n,
            speaker="banron",
            side=slot.side,
            lang=result.lang,
            text=result.text,
            citations=result.citations,
            claims=result.own_claims,
            phase=slot.phase.id,
            part=slot.part,
            # banron's own overrun is reported, never cut: cutting would orphan its citations.
            warnings=limited.warnings + result.notes,
        )
        self._commit(turn)
        self.linker.prefetch(turn.claims)  # the student's answer will be linked to these
        yield turn

    def run_banron(self) -> Iterator[str | Turn]:
        """Every banron turn due now (up to the student's next turn, or the end)."""
        while (slot := self.slot) is not None and slot.speaker == "banron":
            yield from self.speak()
