"""Deterministic features of a speech: the markers a debate coach listens for.

Each marker list is Korean and English. The features feed the rubric scores (``scorer.py``) and
their reasons, so every one of them can be shown to a student ("you gave two reasons with
때문에/because, cited no source").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from banron.kb.chunking import split_sentences

_I = re.IGNORECASE

REASON = re.compile(
    r"(때문|왜냐하면|그러므로|따라서|그래서|그러니|므로|(?<!십)니까|덕분|결과적으로|이유는|이유로|"
    r"\bbecause\b|\bsince\b|\btherefore\b|\bthus\b|\bso that\b|\bhence\b|\bas a result\b|\bwhich means\b|"
    r"\bthat is why\b|\bdue to\b|\bleads? to\b|\bcauses?\b)",
    _I,
)
EVIDENCE = re.compile(
    r"(에\s*따르면|조사|연구|통계|자료|보고서|설문|실험|논문|발표|기관|정부|교육부|통계청|OECD|WHO|유엔|"
    r"\baccording to\b|\bstud(y|ies)\b|\bsurvey\w*\b|\breport\w*\b|\bresearch\w*\b|\bdata\b|\bstatistic\w*\b|"
    r"\bevidence\b|\btrial\w*\b|\bexperiment\w*\b|\bfound that\b|\bshows? that\b)",
    _I,
)
NUMBER = re.compile(r"\d+(?:[.,]\d+)?\s*(%|퍼센트|명|배|시간|분|년|개|곳|원|달러|percent|times|hours)?", _I)
CITATION = re.compile(r"\[\d{1,2}\]|「[^」]+」|『[^』]+』|\(\s*\d{4}\s*\)")
EXAMPLE = re.compile(
    r"(예를\s*들어|예컨대|가령|실제로|사례|\bfor example\b|\bfor instance\b|\bsuch as\b|\be\.g\.)", _I
)
SIGNPOST = re.compile(
    r"(첫째|둘째|셋째|첫\s*번째|두\s*번째|세\s*번째|먼저|다음으로|마지막으로|결론적으로|요약하면|정리하면|"
    r"\bfirst(ly)?\b|\bsecond(ly)?\b|\bthird(ly)?\b|\bfinally\b|\bin conclusion\b|\bto sum up\b|\bnext\b|"
    r"\bmy (first|second|third|last) (point|argument)\b)",
    _I,
)
OPENING = re.compile(
    r"(안녕하십니까|안녕하세요|저는\s*(찬성|반대)|저희\s*(찬성|반대)|입론|논제|\bi (support|oppose|stand)\b|"
    r"\bwe (support|oppose)\b|\bthis house\b|\bthe motion\b|\btoday i\b|\bi will (argue|make|show)\b)",
    _I,
)
CLOSING = re.compile(
    r"(결론적으로|따라서\s*저(는|희)|그러므로\s*저(는|희)|이상입니다|마치겠습니다|감사합니다|요약하면|"
    r"\bin conclusion\b|\bthat is why\b|\bfor these reasons\b|\btherefore,? (we|i)\b|\bthank you\b)",
    _I,
)
CLASH = re.compile(
    r"(상대\s*(측|편|방|팀)|앞서\s*(말씀|주장)|라고\s*(했|말씀|주장)|지적|반박|"
    r"\bmy opponents?\b|\bthe other (side|team)\b|\bthe "
    r"(proposition|opposition)\b|\bthey (say|said|claim\w*|argue\w*)\b|"
    r"\bhas argued\b|\bclaimed that\b|\bin response\b|\brebut\w*\b)",
    _I,
)
CONTRAST = re.compile(
    r"(하지만|그러나|그렇지만|지만(?=[\s,])|반면|오히려|\bhowever\b|\bbut\b|\byet\b|\bon "
    r"the contrary\b|\binstead\b)",
    _I,
)
WEIGHING = re.compile(
    r"(더\s*(중요|크|심각|많)|보다\s*(더|훨씬)|무엇보다|가장\s*(중요|큰)|\bmore important\b|\boutweigh\w*\b|"
    r"\bmatters more\b|\bthe bigger\b|\beven if\b|\bmost important\b)",
    _I,
)
FILLER = re.compile(
    r"(^|\s)(음+|어+|그+|막|약간|뭐랄까|그니까|진짜|완전|\bum+\b|\buh+\b|\blike\b|\byou "
    r"know\b|\bbasically\b)(?=\s|[,.]|$)",
    _I,
)
INFORMAL = re.compile(
    r"(ㅋㅋ|ㅎㅎ|ㅠ|ㅜ|[가-힣](음|함|임|셈)(?=\s|[.!?]|$)|[가-힣](냐|니|거든|잖아|지롱)(?=\s|[.!?]|$)|\blol\b|\bgonna\b|\bwanna\b|!!+|\?\?+)",
    _I,
)
INSULT = re.compile(r"(바보|멍청|한심|무식|\bidiot\w*\b|\bstupid\b|\bdumb\b|\bmoron\w*\b)", _I)


@dataclass
class SpeechFeatures:
    """Counts of markers in a speech, and the sentences that carry them."""

    sentences: list[str]
    chars: int
    words: int
    reasons: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    signposts: list[str] = field(default_factory=list)
    clash: list[str] = field(default_factory=list)
    contrast: list[str] = field(default_factory=list)
    weighing: list[str] = field(default_factory=list)
    fillers: int = 0
    informal: list[str] = field(default_factory=list)
    insults: list[str] = field(default_factory=list)
    has_opening: bool = False
    has_closing: bool = False
    repeated: int = 0  # sentences that repeat an earlier one almost word for word
    mean_sentence_chars: float = 0.0
    long_sentences: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.sentences)


def sentences_of(text: str) -> list[str]:
    """The speech's sentences, whitespace normalised, empty ones dropped."""
    out = []
    for start, end in split_sentences(text):
        s = " ".join(text[start:end].split())
        if s:
            out.append(s)
    return out


LONG_SENTENCE = 160  # characters; Korean speech sentences beyond this lose listeners


_SIDE_KO = {"pro": re.compile(r"반대\s*(측|편)"), "con": re.compile(r"찬성\s*(측|편)")}


def extract(text: str, sentences: list[str] | None = None, side: str | None = None) -> SpeechFeatures:
    """Features of ``text``; with ``side`` (pro|con), naming the other side ("반대측은…") counts as clash."""
    sents = sentences if sentences is not None else sentences_of(text)
    other = _SIDE_KO.get(side or "")
    f = SpeechFeatures(sentences=sents, chars=len(text.strip()), words=len(text.split()))
    seen: list[set[str]] = []
    for s in sents:
        if REASON.search(s):
            f.reasons.append(s)
        if EVIDENCE.search(s):
            f.evidence.append(s)
        if NUMBER.search(s):
            f.numbers.append(s)
        if CITATION.search(s):
            f.citations.append(s)
        if EXAMPLE.search(s):
            f.examples.append(s)
        if SIGNPOST.search(s):
            f.signposts.append(s)
        if CLASH.search(s) or (other is not None and other.search(s)):
            f.clash.append(s)
        if CONTRAST.search(s):
            f.contrast.append(s)
        if WEIGHING.search(s):
            f.weighing.append(s)
        if INFORMAL.search(s):
            f.informal.append(s)
        if INSULT.search(s):
            f.insults.append(s)
        if len(s) > LONG_SENTENCE:
            f.long_sentences.append(s)
        f.fillers += len(FILLER.findall(s))
        words = set(re.findall(r"\w+", s.lower()))
        if len(words) >= 3 and any(len(words & w) >= 0.85 * len(words) for w in seen):
            f.repeated += 1
        seen.append(words)
    if sents:
        f.has_opening = bool(OPENING.search(sents[0])) or bool(SIGNPOST.search(sents[0]))
        f.has_closing = len(sents) > 1 and bool(CLOSING.search(sents[-1]) or REASON.search(sents[-1]))
        f.mean_sentence_chars = sum(len(s) for s in sents) / len(sents)
    return f
