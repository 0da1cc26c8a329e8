"""Free sparring: the student speaks, banron rebuts with evidence, turn after turn.

The session knows nothing of terminals or HTTP: the CLI (and later the web app) feed it speeches
and render what it streams. Each completed turn is stored before the next one starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from banron.debate.claims import extract_claims
from banron.debate.opponent import Opponent, Speech
from banron.debate.transcript import to_markdown
from banron.domain import Lang, Motion, Side, Turn
from banron.kb.lang import detect_lang
from banron.store.sqlite import DebateRecord, DebateStore


@dataclass
class SparSession:
    motion: Motion
    student_side: Side
    opponent: Opponent
    store: DebateStore | None = None
    record: DebateRecord | None = None
    turns: list[Turn] = field(default_factory=list)

    @classmethod
    def start(
        cls, motion: Motion, student_side: Side, opponent: Opponent, store: DebateStore | None
    ) -> SparSession:
        record = None
        if store is not None:
            record = store.create_debate(
                motion_id=motion.id,
                motion_text=motion.text,
                student_side=student_side,
                kbs=list(opponent.kbs),
            )
        return cls(motion, student_side, opponent, store, record)

    @property
    def banron_side(self) -> Side:
        return self.student_side.opposite

    def _save(self, turn: Turn) -> None:
        self.turns.append(turn)
        if self.store is not None and self.record is not None:
            self.store.add_turn(self.record.id, turn)

    def exchange(self, speech: str) -> Iterator[str | Turn]:
        """Record the student's speech, then stream banron's rebuttal.

        Yields the student's stored Turn, then text pieces, then banron's stored Turn.
        """
        speech = speech.strip()
        if not speech:
            raise ValueError("empty speech")
        lang: Lang = "ko" if detect_lang(speech) == "ko" else "en"
        n = len(self.turns) + 1
        claims = extract_claims(
            speech,
            self.opponent.retriever.tokenizer,
            limit=self.opponent.settings.max_claims,
            prefix=f"t{n}c",
        )
        student = Turn(n=n, speaker="student", side=self.student_side, lang=lang, text=speech, claims=claims)
        self._save(student)
        yield student
        result: Speech | None = None
        for item in self.opponent.rebut(speech, claims):
            if isinstance(item, Speech):
                result = item
            else:
                yield item
        assert result is not None
        reply = Turn(
            n=n + 1,
            speaker="banron",
            side=self.banron_side,
            lang=result.lang,
            text=result.text,
            citations=result.citations,
        )
        self._save(reply)
        yield reply

    def to_markdown(self) -> str:
        return to_markdown(self.record, self.motion.text, self.turns)
