"""detect_lang: Hangul share of Hangul + Latin letters, threshold 20 %."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from banron.kb.lang import detect_lang


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("인공지능 규제는 혁신을 저해한다.", "ko"),
        ("AI regulation stifles innovation.", "en"),
        ("", "en"),
        ("   \n\t", "en"),
        ("12345 !?… 3.5%", "en"),
        ("AI Act와 GDPR은 EU의 대표적인 규제이다", "ko"),  # Korean with English terms
        ("The word 반론 means rebuttal in Korean.", "en"),  # English quoting a Korean word
        ("가aaaa", "ko"),  # exactly 20 %
        ("가aaaaa", "en"),  # 16.7 %
        ("Café déjà vu, naïve résumé", "en"),
        ("ㅋㅋㅋ lol", "en"),  # compatibility jamo are not syllables
    ],
)
def test_examples(text: str, expected: str) -> None:
    assert detect_lang(text) == expected


def test_decomposed_hangul_counts_as_korean() -> None:
    nfd = unicodedata.normalize("NFD", "토론 연습을 합시다 with AI")
    assert nfd != "토론 연습을 합시다 with AI"
    assert detect_lang(nfd) == "ko"


@given(st.text(alphabet=st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), min_size=1))
def test_pure_hangul_is_korean(text: str) -> None:
    assert detect_lang(text) == "ko"


@given(st.text(alphabet=st.characters(max_codepoint=0x7F)))
def test_ascii_is_english(text: str) -> None:
    assert detect_lang(text) == "en"


@given(st.text())
def test_always_ko_or_en(text: str) -> None:
    assert detect_lang(text) in ("ko", "en")
