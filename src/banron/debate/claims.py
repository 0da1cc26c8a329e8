"""Finding the claims in a student's speech, without a model.

A claim here is a sentence that asserts something worth answering. Greetings, sign-posting and
thanks are dropped; the remaining sentences are ranked by how much content they carry and whether
they use the markers of an argument ("해야 한다", "because", numbers...). The top few, in the
order the student made them, are the claims banron answers.
"""

from __future__ import annotations

import re

from banron.domain import Claim
from banron.kb.chunking import split_sentences
from banron.kb.tokenize import LexicalTokenizer

_FILLER = re.compile(
    r"^\s*(안녕하십니까|안녕하세요|감사합니다|고맙습니다|이상입니다|이상으로|저는\s*(찬성|반대)\s*측|"
    r"thank you|thanks|hello|hi\b|good (morning|afternoon|evening)|that'?s all|i rest my case)",
    re.IGNORECASE,
)
_MARKERS = re.compile(
    r"(해야|한다|된다|때문|따라서|그러므로|결국|즉|증가|감소|높|낮|향상|저하|피해|효과|위험|"
    r"should|must|because|therefore|thus|will|cause|lead|increase|reduce|harm|benefit|improve|"
    r"\d)",
    re.IGNORECASE,
)


def extract_claims(text: str, tokenizer: LexicalTokenizer, limit: int = 3, prefix: str = "c") -> list[Claim]:
    """Up to ``limit`` claims from ``text``, in speaking order, ids ``{prefix}1``, ``{prefix}2``..."""
    candidates: list[tuple[float, int, str]] = []
    seen: list[set[str]] = []
    for i, (start, end) in enumerate(split_sentences(text)):
        sentence = " ".join(text[start:end].split())
        if len(sentence) < 8 or _FILLER.match(sentence):
            continue
        toks = set(tokenizer.tokens(sentence))
        if len(toks) < 2:
            continue
        # A sentence that mostly repeats an earlier one is the same claim restated.
        if any(len(toks & s) >= 0.7 * min(len(toks), len(s)) for s in seen):
            continue
        seen.append(toks)
        score = len(toks) + 3.0 * len(_MARKERS.findall(sentence)) - (2.0 if sentence.endswith("?") else 0.0)
        candidates.append((score, i, sentence))
    if not candidates and text.strip():
        # A speech with no sentence that qualifies is still one claim: answer it as a whole.
        candidates.append((0.0, 0, " ".join(text.split())[:300]))
    best = sorted(candidates, key=lambda c: (-c[0], c[1]))[:limit]
    best.sort(key=lambda c: c[1])
    return [Claim(id=f"{prefix}{n}", text=s) for n, (_, _, s) in enumerate(best, start=1)]
