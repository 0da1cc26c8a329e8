"""Judge one student speech: the per-speech scorecard.

The pipeline, all offline and with no chat model unless one is passed in for the tip::

    speech -> sentences -> features (markers)            -> rubric scores + reasons (scorer.py)
           -> e5 vectors (sentences, speech, motion)     -> fallacies (fallacies.py)
                                                         -> quality estimate (quality.py)
                                                         -> each claim's side (stance.py)
           -> claims (debate/claims.py) -> support: markers in or after the claim, or a
              knowledge-base passage that backs it (--kb; the citation checker's test)
           -> key phrases (keypoints.py)  -> one tip (coach.py)

The judge takes its backends (embedder, tokenizer, optional cache, retriever and chat model) as
arguments and knows nothing of the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from banron.debate.claims import extract_claims
from banron.domain import Passage
from banron.judge import coach, fallacies, quality, rubric, scorer, stance
from banron.judge import features as feats
from banron.judge.keypoints import key_phrases
from banron.judge.scorecard import ClaimCheck, Scorecard
from banron.judge.vectors import embed_queries
from banron.kb.embed import Embedder, EmbeddingCache, embed_passages
from banron.kb.lang import detect_lang
from banron.kb.search import Retriever
from banron.kb.tokenize import LexicalTokenizer
from banron.llm.base import ChatBackend

MAX_CLAIMS = 5
# A claim's side is reported only when its polarity is this clear. It is a hint, not a verdict:
# ~76% right at this level on IBM's claim-stance train split, so it never changes a score.
SIDE_CONFIDENCE = 0.6


@dataclass(frozen=True)
class SpeechInput:
    """One line of ``banron judge --speeches``: ``{"id", "motion", "side", "text"}`` (+ ``date``)."""

    id: str
    motion: str
    side: str
    text: str
    date: str | None = None


class SpeechJudge:
    def __init__(
        self,
        embedder: Embedder,
        tokenizer: LexicalTokenizer,
        cache: EmbeddingCache | None = None,
        *,
        rubric_name: str = "free",
        retriever: Retriever | None = None,
        kbs: Sequence[str] = (),
        llm: ChatBackend | None = None,
        key_points: int = 3,
    ) -> None:
        self.embedder = embedder
        self.tokenizer = tokenizer
        self.cache = cache
        self.rubric = rubric.load(rubric_name)
        self.retriever = retriever
        self.kbs = list(kbs)
        self.llm = llm
        self.key_points = key_points
        self.fallacy_model = fallacies.default_classifier(embedder.name)
        self.quality_model = quality.default_model(embedder.name)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        return embed_queries(list(texts), self.embedder, self.cache)

    def judge(self, speech: SpeechInput) -> Scorecard:
        text = speech.text.strip()
        lang = "ko" if detect_lang(text) == "ko" else "en"
        f = feats.extract(text, side=speech.side)
        sentences = f.sentences or [text]
        vecs = self._embed([*sentences, " ".join(text.split()), speech.motion or text])
        svecs, speech_vec, motion_vec = vecs[: len(sentences)], vecs[-2], vecs[-1]

        found = self.fallacy_model.detect(sentences, svecs)
        quality_score = float(self.quality_model.predict(speech_vec[None, :], [text])[0])
        relevance = float(speech_vec @ motion_vec) if speech.motion else None

        claims = extract_claims(text, self.tokenizer, limit=MAX_CLAIMS)
        index = {s: i for i, s in enumerate(sentences)}
        checks: list[ClaimCheck] = []
        for c in claims:
            i = index.get(c.text)
            vec = svecs[i] if i is not None else self._embed([c.text])[0]
            support = self._support(c.text, sentences, i)
            passage = self._kb_support(c.text) if self.kbs and self.retriever else None
            if passage is not None:
                support.append("kb")
            side = None
            if speech.motion and speech.side in ("pro", "con"):
                guess = stance.stances(vec[None, :], speech.motion, self.embedder.name, lang=lang)[0]
                if guess.confidence >= SIDE_CONFIDENCE:
                    side = guess.side
            checks.append(
                ClaimCheck(
                    c.text,
                    supported=bool(support),
                    support=tuple(support),
                    side=side,
                    passage_id=passage.id if passage else None,
                )
            )

        sig = scorer.Signals(f, found, checks, quality_score, relevance, lang)
        scores = scorer.score_all(sig)
        overall = self.rubric.weighted({d: s.score for d, s in scores.items()})
        kps = [k.text for k in key_phrases(text, self._embed, k=self.key_points)] if self.key_points else []
        card = Scorecard(
            id=speech.id,
            motion=speech.motion,
            side=speech.side,
            lang=lang,
            rubric=self.rubric.id,
            scores=scores,
            overall_exact=overall,
            quality=quality_score,
            fallacies=found,
            claims=checks,
            key_points=kps,
            date=speech.date,
            text=text,
        )
        tip = coach.template_tip(card, self.rubric)
        card.feedback = coach.llm_tip(card, self.rubric, self.llm, tip) if self.llm is not None else tip
        return card

    @staticmethod
    def _support(claim: str, sentences: list[str], i: int | None) -> list[str]:
        """What backs a claim: markers in the claim itself or in the sentence right after it."""
        around = [claim] + ([sentences[i + 1]] if i is not None and i + 1 < len(sentences) else [])
        kinds = []
        if any(feats.REASON.search(s) for s in around):
            kinds.append("reason")
        if any(feats.NUMBER.search(s) for s in around):
            kinds.append("number")
        if any(feats.EVIDENCE.search(s) for s in around):
            kinds.append("source")
        if any(feats.EXAMPLE.search(s) for s in around):
            kinds.append("example")
        if any(feats.CITATION.search(s) for s in around):
            kinds.append("citation")
        return kinds

    def _kb_support(self, claim: str) -> Passage | None:
        """A knowledge-base passage that supports the claim, by the citation checker's test."""
        from banron.judge.citations import check_sentence

        assert self.retriever is not None
        hits = self.retriever.search(claim, self.kbs, top_k=3, mode="hybrid")
        for h in hits:
            checks = check_sentence(
                f"{claim} [1]",
                {1: h.passage},
                self.tokenizer,
                embed_query=self.embedder.query,
                passage_vector=lambda p: embed_passages([p.text], self.embedder, self.cache)[0],
            )
            if checks and checks[0].supported:
                return h.passage
        return None
