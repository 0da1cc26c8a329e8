"""The flow: every claim of every speech, what it answers, and what was never answered.

Debate coaches "flow" a round on paper: one column per speech, one row per argument thread, an
arrow from each answer to the claim it answers. A claim the other side never answers although it
spoke again is *dropped*, the most common way to lose a round. banron keeps the same sheet:

- banron's own claims are linked when they are written (a rebuttal point knows which claim it
  answers);
- a student's claims are linked by :class:`Linker`, which compares each new claim with the other
  side's earlier claims (multilingual embeddings plus shared content words) and keeps the close ones;
- threads and dropped claims are derived from those links, never stored separately, so the sheet
  can always be rebuilt from the stored turns.

Cross-examination turns are not part of the flow: questions and answers probe arguments, they do
not make them (a point won in cross-examination has to be extended in a speech to count).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from banron.domain import Claim, Side, Turn
from banron.kb.tokenize import LexicalTokenizer

# Linking: each new claim answers at most its one closest earlier claim of the other side, when that
# claim is close enough (e5 cosine or shared content words). Chosen on benchmarks/data/flow with
# `python benchmarks/flow_eval.py --grid` (2-fold: each half picked lexical 0.1 and one answer; dense
# 0.76 / 0.88): links P 0.549 R 0.738, dropped claims P 0.544 R 0.712 on all 14 debates.
DENSE_LINK = 0.82
LEXICAL_LINK = 0.1
MAX_ANSWERS = 1


@dataclass(frozen=True)
class Entry:
    """One claim on the sheet."""

    claim: Claim
    side: Side
    speech: int  # position of the speech among the flow's speeches (0-based)
    turn_n: int
    phase: str

    @property
    def id(self) -> str:
        return self.claim.id


@dataclass(frozen=True)
class SpeechColumn:
    turn_n: int
    phase: str
    side: Side
    speaker: str


@dataclass
class Thread:
    root: str  # id of the claim that opened the thread
    entries: list[Entry] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "claims": [
                {
                    "id": e.id,
                    "side": e.side.value,
                    "turn": e.turn_n,
                    "phase": e.phase,
                    "text": e.claim.text,
                    "answers": list(e.claim.answers),
                }
                for e in self.entries
            ],
        }


@dataclass
class Flow:
    columns: list[SpeechColumn]
    entries: list[Entry]

    @classmethod
    def from_turns(cls, turns: Sequence[Turn]) -> Flow:
        columns: list[SpeechColumn] = []
        entries: list[Entry] = []
        for t in turns:
            if t.part != "speech":
                continue
            columns.append(SpeechColumn(t.n, t.phase, t.side, t.speaker))
            entries += [Entry(c, t.side, len(columns) - 1, t.n, t.phase) for c in t.claims]
        return cls(columns, entries)

    def by_id(self) -> dict[str, Entry]:
        return {e.id: e for e in self.entries}

    def answered_ids(self) -> set[str]:
        return {a for e in self.entries for a in e.claim.answers}

    def dropped(self) -> list[Entry]:
        """Claims the other side never answered although it spoke after them."""
        answered = self.answered_ids()
        last_speech = {
            side: max((i for i, c in enumerate(self.columns) if c.side is side), default=-1) for side in Side
        }
        return [e for e in self.entries if e.id not in answered and last_speech[e.side.opposite] > e.speech]

    def unanswered(self, side: Side) -> list[Entry]:
        """``side``'s claims not yet answered by the other side (dropped so far, or still open)."""
        answered = self.answered_ids()
        return [e for e in self.entries if e.side is side and e.id not in answered]

    def threads(self) -> list[Thread]:
        """Argument threads: a claim that answers nothing opens one; an answer joins its target's."""
        thread_of: dict[str, Thread] = {}
        threads: list[Thread] = []
        for e in self.entries:
            targets = [a for a in e.claim.answers if a in thread_of]
            if targets:
                thread = thread_of[targets[0]]
            else:
                thread = Thread(root=e.id)
                threads.append(thread)
            thread.entries.append(e)
            thread_of[e.id] = thread
        return threads

    def to_dict(self) -> dict[str, Any]:
        return {
            "speeches": [
                {"turn": c.turn_n, "phase": c.phase, "side": c.side.value, "speaker": c.speaker}
                for c in self.columns
            ],
            "threads": [t.to_dict() for t in self.threads()],
            "dropped": [{"claim_id": e.id, "side": e.side.value} for e in self.dropped()],
        }

    def sheet(self, width: int = 60) -> tuple[list[str], list[list[str]]]:
        """The flow sheet as header + rows of cells (one column per speech, one row per thread)."""
        header = [f"{c.turn_n}. {c.phase or c.speaker} ({c.side.value})" for c in self.columns]
        dropped = {e.id for e in self.dropped()}
        rows = []
        for thread in self.threads():
            cells = [""] * len(self.columns)
            for e in thread.entries:
                text = " ".join(e.claim.text.split())
                if len(text) > width:
                    text = text[: width - 1] + "…"
                mark = " ✗dropped" if e.id in dropped else ""
                cell = f"[{e.id}] {text}{mark}"
                cells[e.speech] = f"{cells[e.speech]}\n{cell}" if cells[e.speech] else cell
            rows.append(cells)
        return header, rows

    def to_markdown(self) -> str:
        header, rows = self.sheet()
        if not header:
            return ""
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for cells in rows:
            out.append("| " + " | ".join(c.replace("\n", "<br>").replace("|", "\\|") for c in cells) + " |")
        return "\n".join(out)


@dataclass
class Linker:
    """Links a new claim to the other side's earlier claims it answers."""

    tokenizer: LexicalTokenizer
    embed: Callable[[Sequence[str]], np.ndarray]  # texts -> vectors as rows (one batch)
    dense_threshold: float = DENSE_LINK
    lexical_threshold: float = LEXICAL_LINK
    max_answers: int = MAX_ANSWERS
    # Start embedding texts in the background (the embedder remembers them for ``embed``): None, do not.
    warm: Callable[[Sequence[str]], None] | None = None
    _vectors: dict[str, np.ndarray] = field(default_factory=dict)

    def prefetch(self, claims: Sequence[Claim]) -> None:
        """Start embedding the claims of a turn just stored that this linker has no vectors for
        yet: the next turn needs them (banron's search, or linking the student's answer to them),
        and the student reads or types meanwhile."""
        todo = [c.text for c in claims if c.id not in self._vectors]
        if self.warm is not None and todo:
            self.warm(todo)

    def _embed_missing(self, items: Sequence[tuple[str, str]]) -> None:
        """Vectors of the (key, text) pairs not seen yet, in one call: one e5 pass over a speech's
        claims costs about what one claim alone does."""
        todo = {key: text for key, text in items if key not in self._vectors}
        if todo:
            vectors = self.embed(list(todo.values()))
            self._vectors.update(zip(todo, vectors, strict=True))

    def scores(self, text: str, key: str, candidates: Sequence[Entry]) -> list[tuple[float, float]]:
        """(dense cosine, lexical overlap) of ``text`` against each candidate."""
        if not candidates:
            return []
        self._embed_missing([(key, text), *((e.id, e.claim.text) for e in candidates)])
        v = self._vectors[key]
        toks = set(self.tokenizer.tokens(text))
        out = []
        for e in candidates:
            dense = float(np.dot(v, self._vectors[e.id]))
            ctoks = set(self.tokenizer.tokens(e.claim.text))
            lexical = len(toks & ctoks) / max(1, min(len(toks), len(ctoks)))
            out.append((dense, lexical))
        return out

    def link(self, claims: Sequence[Claim], side: Side, flow: Flow) -> list[Claim]:
        """``claims`` (made by ``side``) with ``answers`` filled in from the other side's claims."""
        candidates = [e for e in flow.entries if e.side is not side]
        if candidates:
            self._embed_missing(
                [*((c.id, c.text) for c in claims), *((e.id, e.claim.text) for e in candidates)]
            )
        linked = []
        for c in claims:
            scored = [
                (dense, lexical, e)
                for (dense, lexical), e in zip(self.scores(c.text, c.id, candidates), candidates, strict=True)
                if dense >= self.dense_threshold or lexical >= self.lexical_threshold
            ]
            scored.sort(key=lambda s: -(s[0] + s[1]))
            answers = tuple(e.id for _, _, e in scored[: self.max_answers])
            linked.append(Claim(c.id, c.text, answers or c.answers))
        return linked
