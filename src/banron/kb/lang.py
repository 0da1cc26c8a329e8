"""Tell Korean from English text, cheaply and deterministically.

banron only distinguishes ``"ko"`` and ``"en"``. The rule counts letters of two scripts:

* Hangul syllables (U+AC00–U+D7A3), plus leading conjoining jamo (U+1100–U+115F), so that
  decomposed (NFD) Korean, e.g. from macOS file names, counts one per syllable as well;
* Latin letters: ASCII ``A–Z a–z`` and the accented letters of Latin-1 Supplement and
  Latin Extended-A/B.

The text is ``"ko"`` when Hangul is at least 20 % of those letters, else ``"en"``. The
threshold is low on purpose: Korean writing routinely carries English terms, acronyms and
URLs ("AI 규제는 GDPR처럼…"), while English text almost never contains Hangul. Text with
no letters at all (empty, digits, punctuation) is ``"en"``.
"""

from __future__ import annotations

import re

from banron.domain import Lang

__all__ = ["KO_THRESHOLD", "detect_lang"]

KO_THRESHOLD = 0.2
"""Minimum share of Hangul among Hangul + Latin letters for a text to count as Korean."""

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u115f]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]")


def detect_lang(text: str) -> Lang:
    """``"ko"`` when Hangul syllables are ≥ 20 % of the letters (Hangul + Latin), else ``"en"``.

    >>> detect_lang("인공지능 규제는 필요하다")
    'ko'
    >>> detect_lang("AI regulation is necessary")
    'en'
    >>> detect_lang("")
    'en'
    """
    hangul = len(_HANGUL.findall(text))
    if hangul == 0:
        return "en"
    latin = len(_LATIN.findall(text))
    return "ko" if hangul >= KO_THRESHOLD * (hangul + latin) else "en"
