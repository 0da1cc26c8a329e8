"""Korean-aware lexical search: particles must not hide a match (whitespace BM25's known failure)."""

from __future__ import annotations

import pytest

from banron.kb.tokenize import make_tokenizer


@pytest.mark.parametrize("query", ["숙제는", "숙제를", "숙제가", "숙제에"])
def test_particles_reduce_to_the_stem(query: str) -> None:
    assert make_tokenizer("mecab").tokens(query) == ["숙제"]


def test_inflected_verbs_share_a_stem() -> None:
    tok = make_tokenizer("mecab")
    assert "줄이" in tok.tokens("숙제를 줄여야 한다")
    assert "줄이" in tok.tokens("숙제를 줄이면 학생들이 쉰다")


def test_whitespace_tokenizer_shows_the_failure_it_exists_to_document() -> None:
    ws = make_tokenizer("whitespace")
    assert set(ws.tokens("숙제는")).isdisjoint(ws.tokens("숙제를"))


def test_english_is_stemmed_and_stopworded() -> None:
    tok = make_tokenizer("mecab")
    assert tok.tokens("The students were banned") == ["student", "ban"]


def test_repeated_texts_are_tokenized_once_and_callers_get_their_own_list() -> None:
    tok = make_tokenizer("mecab")
    first = tok.tokens("숙제는 학생들의 수면을 빼앗는다")
    first.append("scribble")
    again = tok.tokens("숙제는 학생들의 수면을 빼앗는다")
    assert "scribble" not in again and "숙제" in again
    assert tok._recent.cache_info().hits >= 1  # type: ignore[attr-defined]
    kept = tok._recent.cache_info().currsize  # type: ignore[attr-defined]
    long_text = "숙제 " * 1500  # long texts (whole documents) are not kept
    assert tok.tokens(long_text)[:2] == ["숙제", "숙제"]
    assert tok._recent.cache_info().currsize == kept  # type: ignore[attr-defined]
