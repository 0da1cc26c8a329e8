"""banron's speech for each kind of phase: a case, questions, answers, a rebuttal, a closing.

Every speech is built the same way as a rebuttal (``opponent.py``): evidence first, then frames
from ``prompts/phases.yaml`` around verbatim quotes, each sentence checked by the opponent's
writer before it is shown. The flow decides what to target: the student's unanswered claims,
banron's own claims the student dropped, the clashes that decide the round.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any, Literal

import yaml

from banron.debate.flow import Entry, Flow, Thread
from banron.debate.formats import Phase
from banron.debate.guard import fence_evidence, is_manipulation
from banron.debate.opponent import Opponent, Point, Speech, _shorten, _Writer, phrases
from banron.domain import Claim, Hit, Lang, Side, Turn
from banron.kb.chunking import split_sentences
from banron.kb.index.base import Filters
from banron.llm import Message

Part = Literal["speech", "question", "answer"]

_QUESTION_END = re.compile(r"(\?|？|까\s*[.!]?$|나요\s*[.!]?$|죠\s*[.!]?$|지요\s*[.!]?$)")


@lru_cache(maxsize=1)
def frames() -> dict[str, Any]:
    text = (files("banron.debate") / "prompts" / "phases.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


@dataclass(frozen=True)
class Budget:
    """How much banron says in a phase, from the phase's word limit."""

    points: int
    quote_chars: int

    @classmethod
    def of(cls, phase: Phase, max_points: int) -> Budget:
        points = max(1, min(max_points, phase.words // 150))
        return cls(points=points, quote_chars=420 if phase.words >= 400 else 200)


def split_questions(text: str) -> list[str]:
    """The questions in a cross-examination turn; the whole turn when none is marked as one."""
    sentences = [" ".join(text[s:e].split()) for s, e in split_sentences(text)]
    asked = [s for s in sentences if _QUESTION_END.search(s)]
    return asked or [" ".join(text.split())]


@dataclass
class PhaseSpeaker:
    """Writes banron's speech for one slot of the debate."""

    opp: Opponent

    @property
    def side(self) -> Side:
        return self.opp.side

    def speak(
        self, phase: Phase, part: Part, lang: Lang, turns: Sequence[Turn], flow: Flow, prefix: str
    ) -> Iterator[str | Speech]:
        budget = Budget.of(phase, self.opp.settings.max_claims)
        rng = random.Random(f"{self.opp.seed}:{len(turns)}:{phase.id}:{part}")
        if part == "question":
            yield from self.questions(phase, lang, flow, rng, budget, prefix)
        elif part == "answer":
            yield from self.answers(turns[-1].text if turns else "", lang, rng, budget, prefix)
        elif phase.kind == "constructive" or (phase.kind == "free" and not flow.entries):
            yield from self.constructive(lang, flow, rng, budget, prefix)
        elif phase.kind == "closing":
            yield from self.closing(lang, flow, rng, budget, prefix)
        else:
            yield from self.rebuttal(lang, turns, flow, budget, prefix)

    # -- helpers -------------------------------------------------------------------------------
    def _writer(self, points: Sequence[Point], lang: Lang, budget: Budget) -> _Writer:
        writer = _Writer(self.opp, self.opp.numbered_evidence(points), lang)
        writer.quote_limit = budget.quote_chars
        return writer

    def _fmt(self, lang: Lang, section: str, key: str, rng: random.Random, **kw: Any) -> str:
        frame = frames()[lang][section][key]
        if isinstance(frame, list):
            frame = rng.choice(frame)
        common = {
            "side": self.side.label(lang),
            "motion": self.opp.motion.text_in(lang),
            "stance_verb": phrases()[lang]["stance_verb"][self.side.value],
        }
        return str(frame).format(**{**common, **kw})

    def _ordinal(self, lang: Lang, key: str, i: int) -> str:
        names = frames()[lang][key]
        return str(names[min(i, len(names) - 1)])

    def _evidence(self, writer: _Writer, point: Point) -> Iterator[str]:
        for j, n in enumerate(writer.numbers_of(point)):
            yield from writer.say(writer._evidence_sentence(point, n, first=j == 0))

    def _targets(self, flow: Flow, limit: int) -> list[Claim]:
        """The other side's claims banron has not answered yet: latest speech first, then in order."""
        open_ = flow.unanswered(self.side.opposite)
        chosen = sorted(open_, key=lambda e: -e.speech)[:limit]
        return [e.claim for e in sorted(chosen, key=lambda e: (e.speech, e.id))]

    def case_evidence(self, lang: Lang, k: int) -> list[Hit]:
        """Passages on banron's side of the motion for a case: fresh, in the debate's language
        first, and from different documents where the knowledge base allows."""
        retriever, motion = self.opp.retriever, self.opp.motion_filter
        query = self.opp.motion.text_in(lang)
        hits: list[Hit] = []
        for stances in ((self.side.value,), ("neutral",)):
            if len(hits) >= 3 * k:
                break
            hits += retriever.search(
                query, self.opp.kbs, top_k=12, filters=Filters(motion=motion, stances=stances)
            )
        if not hits and motion is not None:
            hits = retriever.search(
                query, self.opp.kbs, top_k=12, filters=Filters(stances=(self.side.value,))
            )
        order = {id(h): i for i, h in enumerate(hits)}
        hits.sort(key=lambda h: (h.passage.id in self.opp.used, h.passage.lang != lang, order[id(h)]))
        picked: list[Hit] = []
        for h in hits:
            if len(picked) == k:
                break
            if all(h.passage.id != p.passage.id and h.passage.title != p.passage.title for p in picked):
                picked.append(h)
        for h in hits:  # one document only: take its other passages
            if len(picked) == k:
                break
            if all(h.passage.id != p.passage.id for p in picked):
                picked.append(h)
        return picked

    # -- speeches ------------------------------------------------------------------------------
    def constructive(
        self, lang: Lang, flow: Flow, rng: random.Random, budget: Budget, prefix: str
    ) -> Iterator[str | Speech]:
        hits = self.case_evidence(lang, max(2, budget.points))
        contentions = [
            Point(Claim(f"{prefix}{i}", h.passage.section or h.passage.title), [h])
            for i, h in enumerate(hits, start=1)
        ]
        titles = [c.claim.text for c in contentions]
        # A second constructive also answers the case it follows (at most one claim in short phases).
        targets = self._targets(flow, max(1, budget.points - 1))
        # The case's passages are spoken for: the answers reach for other evidence first.
        self.opp.used.update(h.passage.id for h in hits)
        answers = self.opp.plan(targets) if targets else []
        writer = self._writer([*contentions, *answers], lang, budget)
        style = self.opp.style_for(lang)
        if style == "llm":
            yield from self._llm("constructive", writer, lang, targets, count=len(contentions), dropped=[])
            if len(writer.cited) >= min(2, len(writer.numbered)):
                own = self._cited_claims(writer, contentions, prefix)
                own += [
                    Claim(f"{prefix}{len(contentions) + i}", c.text, c.answers)
                    for i, c in enumerate(writer.answer_claims(answers, "x"), start=1)
                ]
                yield writer.finish(targets, "llm", own)
                return
            writer.text += "\n"  # too few supported citations: the template case follows
        yield from writer.say(self._fmt(lang, "constructive", "opening", rng, count=len(contentions)))
        own = []
        for i, point in enumerate(contentions):
            ordinal = self._ordinal(lang, "ordinals", i)
            headline = point.claim.text
            if headline and titles.count(headline) == 1 and len(headline) <= 60:
                line = self._fmt(lang, "constructive", "contention", rng, ordinal=ordinal, headline=headline)
            else:
                line = self._fmt(lang, "constructive", "contention_plain", rng, ordinal=ordinal)
            yield from writer.say(line, sep="\n\n")
            before = len(writer.cited)
            yield from self._evidence(writer, point)
            if len(writer.cited) > before:
                quote = writer.cited[writer.numbers_of(point)[0]]
                text = f"{headline}: {_shorten(quote, 160)}" if headline else _shorten(quote, 200)
                own.append(Claim(point.claim.id, text))
                yield from writer.say(self._fmt(lang, "constructive", "impact", rng))
        if answers:
            yield from writer.say(self._fmt(lang, "constructive", "answer_intro", rng), sep="\n\n")
            yield from writer.template_points(answers, rng, bridge=style == "bridge")
            own += [
                Claim(f"{prefix}{len(contentions) + i}", c.text, c.answers)
                for i, c in enumerate(writer.answer_claims(answers, "x"), start=1)
            ]
        yield from writer.say(self._fmt(lang, "constructive", "closing", rng), sep="\n\n")
        yield writer.finish(targets, "template" if style == "llm" else style, own)

    def _llm(
        self,
        kind: str,
        writer: _Writer,
        lang: Lang,
        claims: Sequence[Claim],
        count: int,
        dropped: Sequence[Claim],
    ) -> Iterator[str]:
        """The model writes this phase's speech from the numbered evidence; ``say`` checks each sentence."""
        prompt = frames()["llm"][kind]
        kw = {
            "side": self.side.label("en"),
            "motion": self.opp.motion.text_in(lang),
            "language": "Korean" if lang == "ko" else "English",
            "count": count,
            "claims": "\n".join(f"- {fence_evidence(c.text, lang=lang)}" for c in claims) or "(none)",
            "dropped": "\n".join(f"- {c.text}" for c in dropped) or "(none)",
            "evidence": writer.numbered_prompt_evidence(),
        }
        messages: list[Message] = [
            {"role": "system", "content": prompt["system"].format(**kw)},
            {"role": "user", "content": prompt["user"].format(**kw)},
        ]
        yield from writer.stream_checked(messages)

    @staticmethod
    def _cited_claims(writer: _Writer, points: Sequence[Point], prefix: str) -> list[Claim]:
        """banron's own flow claims for the points whose evidence the speech cited."""
        out = []
        for point in points:
            cited = [n for n in writer.numbers_of(point) if n in writer.cited]
            if cited:
                out.append(Claim(point.claim.id, _shorten(writer.cited[cited[0]], 200)))
        return out

    def questions(
        self, phase: Phase, lang: Lang, flow: Flow, rng: random.Random, budget: Budget, prefix: str
    ) -> Iterator[str | Speech]:
        targets = self._targets(flow, phase.questions)
        if not targets:  # nothing left unanswered: question the other side's latest claims again
            latest = sorted(
                (e for e in flow.entries if e.side is self.side.opposite), key=lambda e: -e.speech
            )
            targets = [e.claim for e in latest[: phase.questions]]
        points = self.opp.plan(targets)
        writer = self._writer(points, lang, budget)
        yield from writer.say(self._fmt(lang, "question", "opening", rng, count=len(points)))
        asked: list[Claim] = []
        for i, point in enumerate(points):
            ordinal = self._ordinal(lang, "question_ordinals", i)
            claim = _shorten(point.claim.text, 90)
            yield from writer.say(
                self._fmt(lang, "question", "restate", rng, ordinal=ordinal, claim=claim), sep="\n\n"
            )
            before = len(writer.cited)
            yield from self._evidence(writer, point)
            key = "ask" if len(writer.cited) > before else "ask_no_evidence"
            question = self._fmt(lang, "question", key, rng)
            yield from writer.say(question)
            asked.append(Claim(f"{prefix}{i + 1}", question, (point.claim.id,)))
        yield writer.finish(targets, "template", asked)

    def answers(
        self, asked: str, lang: Lang, rng: random.Random, budget: Budget, prefix: str
    ) -> Iterator[str | Speech]:
        questions = split_questions(asked)[:5]
        qclaims = [Claim(f"{prefix}q{i}", q) for i, q in enumerate(questions, start=1)]
        points = self.opp.plan(qclaims)
        writer = self._writer(points, lang, budget)
        yield from writer.say(self._fmt(lang, "answer", "opening", rng))
        held_firm = False
        for i, point in enumerate(points):
            ordinal = self._ordinal(lang, "ordinals", i)
            question = _shorten(point.claim.text, 80)
            yield from writer.say(
                self._fmt(lang, "answer", "restate", rng, ordinal=ordinal, question=question), sep="\n\n"
            )
            if is_manipulation(point.claim.text) and not held_firm:
                yield from writer.say(self._fmt(lang, "answer", "manipulation", rng))
                held_firm = True
            before = len(writer.cited)
            yield from self._evidence(writer, point)
            key = "firm" if len(writer.cited) > before else "no_evidence"
            yield from writer.say(self._fmt(lang, "answer", key, rng))
        yield from writer.say(self._fmt(lang, "answer", "closing", rng), sep="\n\n")
        yield writer.finish(qclaims, "template", writer.answer_claims(points, prefix))

    def rebuttal(
        self, lang: Lang, turns: Sequence[Turn], flow: Flow, budget: Budget, prefix: str
    ) -> Iterator[str | Speech]:
        targets = self._targets(flow, budget.points)
        pressed = [e.claim for e in flow.dropped() if e.side is self.side][:2]
        last = next((t.text for t in reversed(turns) if t.side is self.side.opposite), "")
        yield from self.opp.rebut(
            last or self.opp.motion.text,
            targets,
            lang=lang,
            pressed=pressed,
            claim_prefix=prefix,
            quote_limit=budget.quote_chars,
        )

    def _key_clashes(self, flow: Flow, k: int) -> list[Thread]:
        """Threads both sides argued, the longest first (ties: the earliest)."""
        both = [t for t in flow.threads() if {e.side for e in t.entries} == set(Side)]
        both.sort(key=lambda t: -len(t.entries))
        return both[:k]

    def closing(
        self, lang: Lang, flow: Flow, rng: random.Random, budget: Budget, prefix: str
    ) -> Iterator[str | Speech]:
        clashes = self._key_clashes(flow, max(2, min(3, budget.points)))
        points: list[Point] = []
        last_theirs: list[Entry | None] = []
        for thread in clashes:
            theirs = [e for e in thread.entries if e.side is not self.side]
            target = theirs[-1] if theirs else thread.entries[0]
            hits = self.opp.retriever.counter_evidence(
                target.claim.text,
                self.opp.kbs,
                against_side=self.side.opposite.value,
                motion=self.opp.motion_filter,
                top_k=5,
            )
            # A closing weighs the evidence already in the round: re-cite it rather than add new.
            hits.sort(key=lambda h: h.passage.id not in self.opp.used)
            points.append(Point(target.claim, hits[:1]))
            last_theirs.append(theirs[-1] if theirs else None)
        writer = self._writer(points, lang, budget)
        dropped = [e for e in flow.dropped() if e.side is self.side]
        if self.opp.style_for(lang) == "llm":
            yield from self._llm(
                "closing", writer, lang, [p.claim for p in points], len(points), [e.claim for e in dropped]
            )
            if len(writer.cited) >= min(1, len(writer.numbered)):
                made: list[Claim] = []
                for point in points:
                    for c in self._cited_claims(writer, [point], "x"):
                        made.append(Claim(f"{prefix}{len(made) + 1}", c.text, (point.claim.id,)))
                yield writer.finish([p.claim for p in points], "llm", made)
                return
            writer.text += "\n"
        yield from writer.say(self._fmt(lang, "closing", "opening", rng, count=len(points) or 1))
        own: list[Claim] = []
        for i, (thread, point, theirs_last) in enumerate(zip(clashes, points, last_theirs, strict=True)):
            root = next(e for e in thread.entries if e.id == thread.root)
            topic = _shorten(root.claim.text, 60)
            ordinal = self._ordinal(lang, "clash_ordinals", i)
            yield from writer.say(
                self._fmt(lang, "closing", "clash", rng, ordinal=ordinal, topic=topic), sep="\n\n"
            )
            ours_after = theirs_last is not None and any(
                e.side is self.side and e.speech > theirs_last.speech for e in thread.entries
            )
            key = "unanswered" if ours_after else "answered"
            yield from writer.say(self._fmt(lang, "closing", key, rng))
            before = len(writer.cited)
            yield from self._evidence(writer, point)
            if len(writer.cited) > before and theirs_last is not None:
                quote = writer.cited[writer.numbers_of(point)[0]]
                own.append(Claim(f"{prefix}{len(own) + 1}", _shorten(quote, 200), (theirs_last.id,)))
        if dropped:
            yield from writer.say(self._fmt(lang, "closing", "dropped", rng, count=len(dropped)), sep="\n\n")
        yield from writer.say(self._fmt(lang, "closing", "final", rng), sep="\n\n")
        yield writer.finish([p.claim for p in points], "template", own)
