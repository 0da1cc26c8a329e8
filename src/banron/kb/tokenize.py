"""Lexical tokenizers for BM25.

Whitespace tokenization silently fails on Korean: "숙제는", "숙제를" and "숙제" are three different
"words" to it, so a query with a particle attached never matches a passage with another one. The
morphological tokenizers here keep content morphemes (nouns, verb/adjective stems, roots, foreign
words, numbers) and drop particles, endings and punctuation, so all three become "숙제".
English words (tagged SL by the Korean analysers) are lower-cased and lightly stemmed.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Protocol

# Content-bearing part-of-speech tags of the Sejong tag set used by mecab-ko and Kiwi.
_KEEP = ("NNG", "NNP", "NNB", "NR", "NP", "VV", "VA", "XR", "SL", "SH", "SN", "MAG", "XSN")
# Suffixes that carry little for retrieval; "들" (plural) and "적" (-ic) are common noise.
_DROP_SURFACES = frozenset({"들", "적", "하", "되", "있", "없", "것", "수", "등", "때"})

_EN_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "then",
        "than",
        "so",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "into",
        "about",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "which",
        "who",
        "whom",
        "whose",
        "what",
        "when",
        "where",
        "why",
        "how",
        "i",
        "you",
        "he",
        "she",
        "we",
        "they",
        "me",
        "him",
        "her",
        "us",
        "them",
        "my",
        "your",
        "his",
        "our",
        "their",
        "not",
        "no",
        "do",
        "does",
        "did",
        "done",
        "have",
        "has",
        "had",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "also",
        "very",
        "more",
        "most",
        "such",
        "only",
        "just",
        "any",
        "some",
        "all",
        "each",
        "other",
        "own",
        "same",
        "too",
        "s",
        "t",
        "don",
    ]
)
_EN_WORD = re.compile(r"[a-z0-9]+")


def _stem_en(word: str) -> str:
    """A tiny suffix stripper: enough to match plural/verb forms (students/student, bans/banned/ban)."""
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: len(word) - len(suffix)] + repl
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]  # banned -> bann -> ban
    return word


def english_tokens(text: str) -> list[str]:
    return [_stem_en(w) for w in _EN_WORD.findall(text.lower()) if w not in _EN_STOP]


class LexicalTokenizer(Protocol):
    name: str

    def tokens(self, text: str) -> list[str]: ...


class WhitespaceTokenizer:
    """Split on whitespace only. Kept to show (and test) why it fails on Korean."""

    name = "whitespace"

    def tokens(self, text: str) -> list[str]:
        return [t.lower() for t in re.findall(r"\w+", text)]


class MecabTokenizer:
    """mecab-ko (python-mecab-ko): about 10x faster than Kiwi and 18 MB; the default."""

    name = "mecab"

    def __init__(self) -> None:
        import mecab

        self._tagger = mecab.MeCab()
        # MeCab taggers are not documented as thread-safe; the web server may call from many threads.
        self._lock = threading.Lock()
        # A speech tokenizes the same evidence sentences several times over (claims, citation
        # checks, quotes): about 40% of its calls repeat a text. Short texts are remembered.
        self._recent = lru_cache(maxsize=4096)(self._parse)

    def tokens(self, text: str) -> list[str]:
        if len(text) <= 2000:
            return list(self._recent(text))
        return list(self._parse(text))

    def _parse(self, text: str) -> tuple[str, ...]:
        with self._lock:
            morphemes = self._tagger.parse(text)
        out: list[str] = []
        for m in morphemes:
            pos = m.feature.pos
            surface = m.surface
            expression = m.feature.expression
            if "+" in pos and expression:
                # Inflected form: "된다고" = 되/VV + ㄴ다고/EC. Keep the stem of the first morpheme.
                head = expression.split("+", 1)[0].split("/")
                surface, pos = head[0], head[1] if len(head) > 1 else pos
            if pos not in _KEEP or surface in _DROP_SURFACES:
                continue
            if pos == "SL":
                out.extend(english_tokens(surface))
            else:
                out.append(surface.lower())
        return tuple(out)


class KiwiTokenizer:
    """Kiwi (kiwipiepy, optional extra `banron[kiwi]`): more accurate, 519 MB resident."""

    name = "kiwi"

    def __init__(self) -> None:
        try:
            from kiwipiepy import Kiwi
        except ImportError as e:  # pragma: no cover - depends on the optional extra
            raise RuntimeError("the 'kiwi' tokenizer needs kiwipiepy: pip install 'banron[kiwi]'") from e
        self._kiwi = Kiwi()

    def tokens(self, text: str) -> list[str]:
        out: list[str] = []
        for tok in self._kiwi.tokenize(text):
            tag = tok.tag.split("-")[0]  # Kiwi marks regular/irregular verbs as VV-R / VV-I
            if tag not in _KEEP or tok.form in _DROP_SURFACES:
                continue
            if tag == "SL":
                out.extend(english_tokens(tok.form))
            else:
                out.append(tok.form.lower())
        return out


@lru_cache(maxsize=4)
def make_tokenizer(name: str) -> LexicalTokenizer:
    """The tokenizer called ``name``; one instance per process (the analysers load dictionaries)."""
    if name == "mecab":
        return MecabTokenizer()
    if name == "kiwi":
        return KiwiTokenizer()
    if name == "whitespace":
        return WhitespaceTokenizer()
    raise ValueError(f"unknown tokenizer {name!r}; choose mecab, kiwi or whitespace")
