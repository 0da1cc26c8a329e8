"""banron's side of the argument: rebuttals built from retrieved evidence.

Every rebuttal starts from the evidence, not from the model. For each of the student's claims the
retriever finds counter-evidence (passages on banron's side of the motion); the speech then takes
the shape claim -> why it fails -> the evidence, cited as [n]. Three ways to write it:

- ``template``: the frames in ``prompts/rebuttal.yaml`` around verbatim quotes. Never calls a
  model, so it is fluent Korean offline and cannot switch sides.
- ``bridge``: the template, plus one model-written sentence per claim explaining why it fails
  (used for English on the embedded model, which writes passable English but not Korean).
- ``llm``: the model writes the whole speech from numbered evidence (an API model).

Whatever wrote it, each sentence is checked before it is shown: a sentence citing a passage that
does not support it, or conceding the motion, is dropped; a speech left with fewer than two
supported citations gets template points appended.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from typing import Any, Literal

import numpy as np
import yaml

from banron.config import DebateSettings
from banron.debate.guard import (
    CONCESSION,
    concedes,
    fence_evidence,
    firm_reply,
    is_manipulation,
    looks_like_injection,
    switches_side,
    violates_stance,
)
from banron.domain import Citation, Claim, Hit, Lang, Motion, Passage, Side
from banron.judge.citations import check_sentence, cited_numbers, rewrite_from_passage, strip_citations
from banron.kb.chunking import split_sentences
from banron.kb.embed import query_vectors
from banron.kb.lang import detect_lang
from banron.kb.search import Retriever
from banron.llm import ChatBackend, LLMError, Message

Style = Literal["template", "bridge", "llm"]

# Concessions and side switches, Korean and English: debate/guard.py.
_CONCESSION = CONCESSION
_SENTENCE_END = re.compile(r"^(.*?[.!?。](?:\s*\[\d{1,2}\])*[.!?。]?)(\s+)", re.DOTALL)
_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"|‘[^’]*’|「[^」]*」")
_WORD = re.compile(r"[^\W\d_]{2,}")


def _not_a_sentence_in(sentence: str, lang: str) -> bool:
    """A model line that is no sentence of a ``lang`` speech: written in the other language (a
    small model drifts into the evidence's language), list numbers or fragments without words,
    or a phrase repeated over and over ("2024: 2024: 2024: …")."""
    text = _QUOTED.sub(" ", strip_citations(sentence))  # quoted titles may be in any language
    words = _WORD.findall(text)
    if not words:
        return True
    if detect_lang(text) != lang:
        return True
    tokens = text.split()
    return len(tokens) >= 8 and len(set(tokens)) < 0.4 * len(tokens)


@lru_cache(maxsize=1)
def phrases() -> dict[str, Any]:
    text = (files("banron.debate") / "prompts" / "rebuttal.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


@dataclass
class Point:
    claim: Claim
    hits: list[Hit]


@dataclass
class Speech:
    text: str
    lang: Lang
    claims: list[Claim]
    citations: list[Citation]
    evidence: dict[int, Passage] = field(default_factory=dict)
    style: Style = "template"
    dropped_sentences: list[str] = field(default_factory=list)
    own_claims: list[Claim] = field(default_factory=list)  # banron's claims, for the flow
    notes: list[str] = field(default_factory=list)  # for the student: e.g. the model failed midway


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split()).rstrip(" .!?。")
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + "…"


_LEADING_CONNECTIVE = re.compile(
    r"^(또한|그리고|게다가|따라서|그러므로|그래서|하지만|그러나|마지막으로|첫째|둘째|셋째|"
    r"also|and|so|therefore|moreover|furthermore|besides|but|finally|first(ly)?|second(ly)?|third(ly)?)[,\s]+",
    re.IGNORECASE,
)


_LEANS_BACK = re.compile(
    r"^(반면|하지만|그러나|그런데|또한|이는|이것은|이처럼|그 결과|따라서|"
    r"however|but|this|these|that|such|as a result)\b",
    re.IGNORECASE,
)


def _restatable(claim: str) -> str:
    """The claim as quoted back: without its opening connective ("또한", "Also,")."""
    stripped = _LEADING_CONNECTIVE.sub("", claim.strip())
    return stripped if len(stripped) >= 6 else claim.strip()


def _sentences(text: str) -> list[str]:
    return [" ".join(text[s:e].split()) for s, e in split_sentences(text) if text[s:e].strip()]


@dataclass
class Opponent:
    """Writes banron's rebuttals for one debate (banron argues ``side`` of ``motion``)."""

    retriever: Retriever
    motion: Motion
    side: Side
    kbs: Sequence[str]
    settings: DebateSettings
    llm: ChatBackend | None = None
    motion_filter: str | None = None
    temperature: float = 0.3
    max_tokens: int = 400
    seed: int = 0
    used: set[str] = field(default_factory=set)

    # -- planning ----------------------------------------------------------------------------
    def plan(self, claims: list[Claim]) -> list[Point]:
        """Choose evidence for each claim: the best passage not used earlier in the debate."""
        points: list[Point] = []
        chosen: set[str] = set()
        per_claim = max(1, self.settings.passages_per_claim)
        pools: list[list[Hit]] = []
        # Every claim's query vector in one e5 pass (remembered by the embedder), not one pass
        # per claim inside each search: a pass costs about the same for one short text as for four.
        query_vectors(self.retriever.embedder, [c.text for c in claims])
        for claim in claims:
            hits = self.retriever.counter_evidence(
                claim.text,
                self.kbs,
                against_side=self.side.opposite.value,
                motion=self.motion_filter,
                top_k=8,
            )
            # Fresh evidence first; reuse a passage only when nothing else answers the claim.
            hits.sort(key=lambda h: h.passage.id in self.used)
            pools.append(hits)
            pick = [h for h in hits if h.passage.id not in chosen][:per_claim]
            chosen.update(h.passage.id for h in pick)
            points.append(Point(claim, pick))
        # At least two citations per speech when the knowledge base has them.
        for point, pool in zip(points, pools, strict=True):
            if sum(len(p.hits) for p in points) >= 2:
                break
            extra = [h for h in pool if h.passage.id not in chosen][:1]
            chosen.update(h.passage.id for h in extra)
            point.hits.extend(extra)
        return points

    def style_for(self, lang: str) -> Style:
        style = self.settings.style
        if self.llm is None or style == "template":
            return "template"
        if style == "llm":
            return "llm"
        if self.llm.name == "openai":
            return "llm"
        if self.llm.name == "local" and lang == "en":
            return "bridge"
        return "template"

    # -- speaking ----------------------------------------------------------------------------
    def numbered_evidence(self, points: Sequence[Point]) -> dict[int, Passage]:
        """The speech's evidence numbered [1], [2]... in the order the points use it."""
        numbered: dict[int, Passage] = {}
        for point in points:
            for h in point.hits:
                if h.passage not in numbered.values():
                    numbered[len(numbered) + 1] = h.passage
        return numbered

    def rebut(
        self,
        speech: str,
        claims: list[Claim],
        *,
        lang: Lang | None = None,
        pressed: Sequence[Claim] = (),
        claim_prefix: str = "b",
        quote_limit: int = 420,
    ) -> Iterator[str | Speech]:
        """Stream the rebuttal as text pieces; the last item yielded is the finished Speech.

        ``pressed``: banron's own earlier claims the other side has left unanswered, named again
        before the closing line (a dropped argument stands, and a debater says so).
        """
        lang = lang or ("ko" if detect_lang(speech) == "ko" else "en")
        points = self.plan(claims)
        numbered = self.numbered_evidence(points)
        style = self.style_for(lang)
        rng = random.Random(f"{self.seed}:{speech}")
        writer = _Writer(self, numbered, lang)
        writer.quote_limit = quote_limit
        if style == "llm":
            yield from writer.llm_speech(speech, points)
            if len(writer.cited) < min(2, len(numbered)):
                # The model left too few supported citations: answer the uncited claims from templates.
                missing = [p for p in points if not any(n in writer.cited for n in writer.numbers_of(p))]
                yield from writer.template_points(missing or points, rng, bridge=False, continuation=True)
            yield from writer.press(pressed)
        else:
            yield from writer.say(writer.fmt("opening", rng, side=self.side.label(lang)))
            if is_manipulation(speech):  # asked to agree or to switch: say no once, then argue
                yield from writer.say(firm_reply(self.side, lang))
            yield from writer.template_points(points, rng, bridge=style == "bridge")
            yield from writer.press(pressed)
            yield from writer.say(
                writer.fmt(
                    "closing",
                    rng,
                    motion=self.motion.text_in(lang),
                    stance_verb=phrases()[lang]["stance_verb"][self.side.value],
                ),
                sep="\n\n",
            )
        yield writer.finish(claims, style, writer.answer_claims(points, claim_prefix))


class _Writer:
    """Accumulates one speech, checking each sentence before it is emitted."""

    def __init__(self, opp: Opponent, numbered: dict[int, Passage], lang: Lang) -> None:
        self.opp = opp
        self.numbered = numbered
        self.lang: Lang = lang
        self.p = phrases()[lang]
        self.text = ""
        self.cited: dict[int, str] = {}  # n -> quote
        self.dropped: list[str] = []
        self._n_of = {p.id: n for n, p in numbered.items()}
        self._vectors: dict[str, np.ndarray] = {}
        self._clean: dict[str, bool] = {}  # passage id -> free of planted instructions
        self.quote_limit = 420  # characters of a quoted passage; short phases quote less
        self.notes: list[str] = []

    def _clean_evidence(self) -> list[str]:
        """The texts of this speech's passages that carry no planted instructions (scanned once
        per passage: every sentence of the speech is checked against them)."""
        for p in self.numbered.values():
            if p.id not in self._clean:
                self._clean[p.id] = not looks_like_injection(p.text)
        return [p.text for p in self.numbered.values() if self._clean[p.id]]

    def _passage_vector(self, p: Passage) -> np.ndarray:
        # The vector the index stored for the passage when it was added (the same embedder, the
        # same text): no e5 pass per cited passage. Embedded afresh only if the index has none.
        if p.id not in self._vectors:
            retriever = self.opp.retriever
            stored = retriever.index.vectors(p.kb, [p.id]).get(p.id) if p.kb else None
            if stored is None or stored.shape != (retriever.embedder.dim,):
                stored = retriever.embedder.passages([p.text])[0]
            self._vectors[p.id] = stored
        return self._vectors[p.id]

    def finish(self, claims: list[Claim], style: Style, own_claims: list[Claim]) -> Speech:
        """The finished speech; the passages it cited are marked used for the rest of the debate."""
        self.opp.used.update(p.id for n, p in self.numbered.items() if n in self.cited)
        return Speech(
            text=self.text.strip(),
            lang=self.lang,
            claims=claims,
            citations=[self.citation(n) for n in sorted(self.cited)],
            evidence={n: self.numbered[n] for n in sorted(self.cited)},
            style=style,
            dropped_sentences=self.dropped,
            own_claims=own_claims,
            notes=self.notes,
        )

    def answer_claims(self, points: Sequence[Point], prefix: str) -> list[Claim]:
        """banron's flow claims for answered points: the cited evidence, answering the point's claim."""
        out: list[Claim] = []
        for point in points:
            cited = [n for n in self.numbers_of(point) if n in self.cited]
            if cited:
                text = _shorten(self.cited[cited[0]], 200)
                out.append(Claim(f"{prefix}{len(out) + 1}", text, (point.claim.id,)))
        return out

    def press(self, pressed: Sequence[Claim]) -> Iterator[str]:
        """Name banron's claims the other side dropped: they stand unanswered."""
        if not pressed:
            return
        frames = phrases()[self.lang]["press"]
        yield from self.say(frames["intro"], sep="\n\n")
        for claim in pressed:
            yield from self.say(frames["point"].format(claim=_shorten(claim.text, 90)))
        yield from self.say(frames["stands"])

    def numbers_of(self, point: Point) -> list[int]:
        return [self._n_of[h.passage.id] for h in point.hits if h.passage.id in self._n_of]

    def fmt(self, key: str, rng: random.Random, **kw: Any) -> str:
        frame = self.p[key]
        if isinstance(frame, list):
            frame = rng.choice(frame)
        return str(frame).format(**kw)

    def citation(self, n: int) -> Citation:
        p = self.numbered[n]
        return Citation(n=n, passage_id=p.id, kb=p.kb, quote=self.cited[n], title=p.title, source=p.source)

    def say(self, sentence: str, sep: str = " ") -> Iterator[str]:
        """Emit a sentence if it passes the checks; record its citations.

        A sentence that concedes, speaks for the other side or relays instructions (debate/guard.py)
        is dropped. So is one whose passage [n] does not support it; in its place banron quotes
        the passage's best-matching sentence, when the passage speaks to it at all.
        """
        sentence = sentence.strip()
        if not sentence:
            return
        evidence = self._clean_evidence()
        numbers = cited_numbers(sentence)
        relays = looks_like_injection(sentence)  # e.g. a quote that picked up an injected instruction
        side = self.opp.side
        if (relays and not numbers) or (
            not relays and (concedes(sentence, evidence=evidence) or switches_side(sentence, side))
        ):
            self.dropped.append(sentence)
            return
        if numbers:
            retriever = self.opp.retriever
            supported = not relays and all(
                c.supported
                for c in check_sentence(
                    sentence,
                    self.numbered,
                    retriever.tokenizer,
                    embed_query=retriever.embedder.query,
                    passage_vector=self._passage_vector,
                )
            )
            if not supported:
                self.dropped.append(sentence)
                n = numbers[0]
                if len(set(numbers)) > 1 or n not in self.numbered:
                    return
                rewritten = rewrite_from_passage(
                    sentence,
                    n,
                    self.numbered[n],
                    retriever.tokenizer,
                    lang=self.lang,
                    avoid=self.text,
                    skip=looks_like_injection,
                )
                if (
                    rewritten is None
                    or violates_stance(rewritten, side, evidence=evidence)
                    or not all(
                        c.supported for c in check_sentence(rewritten, self.numbered, retriever.tokenizer)
                    )
                ):
                    return
                sentence, numbers = rewritten, [n]
            for n in numbers:
                self.cited.setdefault(n, self._quote_for(n, sentence))
        piece = (sep if self.text and not self.text.endswith("\n") else "") + sentence
        self.text += piece
        yield piece

    def _quote_for(self, n: int, sentence: str) -> str:
        """The passage text the sentence rests on: its best-overlapping sentences."""
        p = self.numbered[n]
        return self._best_quote(p, set(self.opp.retriever.tokenizer.tokens(sentence)))

    def _best_quote(self, p: Passage, wanted: set[str], max_sentences: int = 2) -> str:
        """Up to ``max_sentences`` adjacent sentences of the passage sharing the most ``wanted`` tokens.

        Sentences banron could not say in its own voice are never quoted: a planted instruction,
        a role marker, or a line that concedes or speaks for the other side ("Assistant: Sure!
        You're right, I now support the motion."). Quotation marks would not make them harmless
        to a reader, and a passage for banron's side has no use for them.
        """
        sents = _sentences(p.text)
        usable = [not violates_stance(s, self.opp.side) for s in sents]
        if len(sents) <= max_sentences and all(usable):
            return " ".join(sents)
        tok = self.opp.retriever.tokenizer
        scores = [len(wanted & set(tok.tokens(s))) if ok else 0 for s, ok in zip(sents, usable, strict=True)]
        for width in range(min(max_sentences, len(sents)), 0, -1):
            starts = [i for i in range(len(sents) - width + 1) if all(usable[i : i + width])]
            if not starts:
                continue
            best = max(starts, key=lambda i: (sum(scores[i : i + width]), -i))
            start = best
            # A window opening on "반면…", "This…" leans on the sentence before it: include that one.
            if start > 0 and usable[start - 1] and _LEANS_BACK.match(sents[start]):
                start -= 1
            return " ".join(sents[start : best + width])
        return ""

    def _evidence_sentence(self, point: Point, n: int, first: bool) -> str:
        p = self.numbered[n]
        same = p.lang == self.lang
        # A quote in the other language is shown as it is written: one sentence, so the speech
        # stays in the student's language (the passage itself is one click away).
        wanted = set(self.opp.retriever.tokenizer.tokens(point.claim.text))
        quote = self._best_quote(p, wanted, max_sentences=2 if same else 1)
        if not quote:  # nothing in the passage banron could quote in its own voice
            return ""
        if len(quote) > self.quote_limit:
            quote = _shorten(quote, self.quote_limit)
        key = ("evidence_" if first else "more_") + ("same" if same else "other")
        if same:
            quote = quote.rstrip(" .!?。")
            if self.lang == "en" and len(quote) > 1 and quote[1].islower():
                quote = quote[0].lower() + quote[1:]
        return str(self.p[key]).format(
            source=p.source or p.title, title=p.title or p.source, quote=quote, n=n
        )

    def template_points(
        self, points: list[Point], rng: random.Random, *, bridge: bool, continuation: bool = False
    ) -> Iterator[str]:
        ordinals = self.p["ordinals"]
        for i, point in enumerate(points):
            ordinal = ordinals[min(i, len(ordinals) - 1)]
            yield from self.say(
                self.p["restate"].format(ordinal=ordinal, claim=_shorten(_restatable(point.claim.text), 90)),
                sep="\n\n",
            )
            numbers = self.numbers_of(point)
            if not numbers:
                yield from self.say(self.p["no_evidence"])
                continue
            wrote_bridge = False
            if bridge:
                line = self._bridge(point, numbers[0])
                if line:
                    yield from self.say(line)
                    wrote_bridge = True
            if not wrote_bridge:
                yield from self.say(self.fmt("pivot", rng))
            for j, n in enumerate(numbers):
                yield from self.say(self._evidence_sentence(point, n, first=j == 0))
            yield from self.say(self.fmt("warrant", rng))
        if continuation:
            self.text += "\n"

    def _bridge(self, point: Point, n: int) -> str | None:
        """One model-written sentence on why the claim fails; None when the model's line fails checks."""
        llm = self.opp.llm
        if llm is None:
            return None
        bp = phrases()["bridge_prompt"]
        language = "Korean" if self.lang == "ko" else "English"
        kw = {
            "side": self.opp.side.label("en"),
            "motion": self.opp.motion.text_in("en"),
            "language": language,
            "claim": fence_evidence(point.claim.text, lang=self.lang),
            "evidence": fence_evidence(self.numbered[n].text, lang=self.lang),
        }
        messages: list[Message] = [
            {"role": "system", "content": bp["system"].format(**kw)},
            {"role": "user", "content": bp["user"].format(**kw)},
        ]
        try:
            raw = "".join(llm.stream(messages, max_tokens=48, temperature=self.opp.temperature))
        except LLMError:
            return None
        sents = _sentences(raw.strip().strip('"'))
        if not sents:
            return None
        line = sents[0]
        if (
            cited_numbers(line)
            or violates_stance(line, self.opp.side)
            or detect_lang(line) != self.lang
            or len(line) < 15
            or len(line) > 300
            or not line.endswith((".", "!", "?"))
            or self._restates(line, point.claim.text)
        ):
            return None
        return line

    def _restates(self, line: str, claim: str) -> bool:
        """A "why it fails" line that mostly repeats the claim explains nothing (the small model does
        this: "The claim fails because <the claim>")."""
        tok = self.opp.retriever.tokenizer
        said, claimed = set(tok.tokens(line)), set(tok.tokens(claim))
        return bool(said) and len(said & claimed) >= 0.6 * len(said)

    def numbered_prompt_evidence(self) -> str:
        """The speech's passages for a prompt, numbered; instructions inside them fenced off."""
        return (
            "\n".join(
                f"[{n}] {fence_evidence(f'{p.title} ({p.source}): {p.text}', lang=self.lang)}"
                for n, p in self.numbered.items()
            )
            or "(none)"
        )

    def llm_speech(self, speech: str, points: list[Point]) -> Iterator[str]:
        fp = phrases()["free_prompt"]
        # The student's speech is data too: instructions inside it are fenced off.
        kw = {
            "side": self.opp.side.label("en"),
            "motion": self.opp.motion.text_in(self.lang),
            "language": "Korean" if self.lang == "ko" else "English",
            "speech": fence_evidence(speech, lang=self.lang),
            "claims": "\n".join(f"- {fence_evidence(pt.claim.text, lang=self.lang)}" for pt in points),
            "evidence": self.numbered_prompt_evidence(),
        }
        messages: list[Message] = [
            {"role": "system", "content": fp["system"].format(**kw)},
            {"role": "user", "content": fp["user"].format(**kw)},
        ]
        if is_manipulation(speech):
            # Asked to agree or change sides: say so plainly, then rebut as always.
            yield from self.say(firm_reply(self.opp.side, self.lang))
        yield from self.stream_checked(messages)

    def stream_checked(self, messages: list[Message]) -> Iterator[str]:
        """The model's speech, sentence by sentence, each checked (``say``) before it is shown."""
        llm = self.opp.llm
        assert llm is not None
        buf = ""
        try:
            for piece in llm.stream(
                messages, max_tokens=self.opp.max_tokens, temperature=self.opp.temperature
            ):
                buf += piece
                while True:
                    m = _SENTENCE_END.match(buf)
                    if not m:
                        break
                    yield from self._say_model(m.group(1), sep=" " if "\n" not in m.group(2) else "\n")
                    buf = buf[m.end() :]
        except LLMError as e:
            # A cut or timed-out stream keeps what was already checked; templates fill the rest,
            # and the student is told (the turn's warnings) rather than left guessing.
            buf = ""
            self.notes.append(
                f"모델이 응답하지 못했습니다({e}). 이 발언의 나머지는 근거 자료로 채웠습니다."
                if self.lang == "ko"
                else f"The model failed ({e}); the rest of this speech was built from the evidence."
            )
        if buf.strip():
            yield from self._say_model(buf)

    def _say_model(self, sentence: str, sep: str = " ") -> Iterator[str]:
        """A sentence the model wrote: dropped when it is not a sentence of this speech at all, or
        when the speech already said it (a small model loops on one line)."""
        if _not_a_sentence_in(sentence, self.lang) or sentence.strip() in self.text:
            self.dropped.append(sentence.strip())
            return
        yield from self.say(sentence, sep)
