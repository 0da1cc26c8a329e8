"""The citation checker: measured precision on labelled sentences, its gates, and the rewrite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from banron.domain import Passage
from banron.judge.citations import (
    check_sentence,
    lexical_features,
    numbers_consistent,
    passage_sentences,
    rewrite_from_passage,
)
from banron.kb.tokenize import LexicalTokenizer, make_tokenizer

SET = Path(__file__).parents[2] / "benchmarks" / "data" / "citations" / "sentences.jsonl"


@pytest.fixture(scope="module")
def tok() -> LexicalTokenizer:
    return make_tokenizer("mecab")


def _items() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_precision_on_a_slice_of_the_labelled_set(tok: LexicalTokenizer) -> None:
    """A third of benchmarks/data/citations, checked as the opponent checks (without the embedder:
    on this set no whole-passage cosine reaches the dense threshold, see citation_precision.py)."""
    items = _items()[::3]
    passed = []
    for item in items:
        checks = check_sentence(item["sentence"], {item["n"]: Passage(**item["passage"])}, tok)
        if checks and all(c.supported for c in checks):
            passed.append(item)
    precision = sum(i["supported"] for i in passed) / len(passed)
    assert len(items) >= 80 and len(passed) >= 25
    assert precision >= 0.95, [i["id"] for i in passed if not i["supported"]]
    # banron's own template sentences quote their passage: every one of them must pass.
    templates = [i for i in items if i["kind"] == "template"]
    assert templates and all(i in passed for i in templates)


def test_the_labelled_set_is_large_and_mixed() -> None:
    items = _items()
    assert len(items) >= 150
    assert {i["lang"] for i in items} == {"ko", "en"}
    assert any(i["supported"] for i in items) and any(not i["supported"] for i in items)
    assert len({i["id"] for i in items}) == len(items)


KO = Passage(
    id="p1",
    kb="t",
    lang="ko",
    title="알림 하나가 흩뜨리는 집중력",
    source="가상 교육정책연구소(2023)",
    text=(
        "수업 중 학생 120명을 관찰한 결과, 휴대전화 알림을 확인한 학생이 다시 과제에 몰입하기까지 "
        "평균 9분가량이 걸렸다. 기기를 책상 위에 두기만 해도 주의가 분산되어 과제 정확도가 낮아졌다. "
        "연구진은 기기를 떨어뜨려 두는 것이 가장 확실한 대책이라고 보았다."
    ),
)
EN = Passage(
    id="p2",
    kb="t",
    lang="en",
    title="Offloading the practice itself",
    source="Hypothetical Centre for Mathematics Education (2023)",
    text=(
        "Students who used an AI tool freely on maths homework for a term got 40% more homework "
        "problems right, yet performed worse on the unit exam than classmates without access. "
        "Having the tool supply the steps removed the productive difficulty that builds fluency."
    ),
)


def _ok(sentence: str, p: Passage, tok: LexicalTokenizer) -> bool:
    return all(c.supported for c in check_sentence(sentence, {1: p}, tok))


def test_quotes_and_close_restatements_pass(tok: LexicalTokenizer) -> None:
    assert _ok(
        "가상 교육정책연구소(2023)에 따르면, 학생이 다시 과제에 몰입하기까지 평균 9분가량이 걸렸다 [1].",
        KO,
        tok,
    )
    assert _ok(
        "According to the centre, students who used AI freely got 40% more homework problems right [1].",
        EN,
        tok,
    )


@pytest.mark.parametrize(
    ("sentence", "why"),
    [
        (
            "알림을 확인한 학생은 다시 과제에 몰입하기까지 평균 19분이 걸렸다 [1].",
            "a number not in the passage",
        ),
        (
            "알림을 확인한 학생은 다시 과제에 몰입하기까지 평균 9시간이 걸렸다 [1].",
            "the right number, the wrong unit",
        ),
        ("기기를 책상 위에 두어도 과제 정확도가 낮아지지 않았다 [1].", "negation reversed"),
        ("모든 학생의 과제 정확도가 낮아졌다 [1].", "an absolute the passage lacks"),
        ("기기를 책상 위에 두면 과제 정확도가 높아졌다 [1].", "direction reversed"),
    ],
)
def test_gates_reject_what_a_model_gets_wrong_in_korean(
    sentence: str, why: str, tok: LexicalTokenizer
) -> None:
    assert not _ok(sentence, KO, tok), why


@pytest.mark.parametrize(
    ("sentence", "why"),
    [
        ("Students who used AI freely got 14% more homework problems right [1].", "wrong number"),
        ("Students who used AI freely performed better on the unit exam [1].", "direction reversed"),
        ("Students who used AI freely did not get more homework problems right [1].", "negation reversed"),
        ("Most students who used AI freely performed worse on the unit exam [1].", "an absolute"),
        ("The moon is made of cheese [1].", "nothing to do with the passage"),
    ],
)
def test_gates_reject_what_a_model_gets_wrong_in_english(
    sentence: str, why: str, tok: LexicalTokenizer
) -> None:
    assert not _ok(sentence, EN, tok), why


def test_a_citation_without_its_passage_is_unsupported(tok: LexicalTokenizer) -> None:
    checks = check_sentence("Students did worse on the unit exam [3].", {1: EN}, tok)
    assert [c.n for c in checks] == [3] and not checks[0].supported


def test_numbers_match_across_scripts_but_not_against_a_percentage() -> None:
    assert numbers_consistent("about 9 minutes", "평균 9분가량이 걸렸다")
    assert numbers_consistent("1500 parents", "학부모 1,500명")
    assert not numbers_consistent("20점이 올랐다", "하위 20% 학생")
    assert not numbers_consistent("15시간", "하루 평균 15분")


def test_the_window_is_the_shortest_one_that_covers_the_sentence(tok: LexicalTokenizer) -> None:
    sents = passage_sentences(EN.text)
    f = lexical_features("the productive difficulty that builds fluency was removed", sents, "", tok)
    assert f.lexical == 1.0 and f.window == sents[1]


def test_rewrite_quotes_the_best_matching_passage_sentence(tok: LexicalTokenizer) -> None:
    wrong = "Students who used AI freely got 14% more homework problems right [1]."
    new = rewrite_from_passage(wrong, 1, EN, tok, lang="en")
    assert new is not None and new.endswith("[1]")
    assert "40% more homework problems right" in new and "14%" not in new
    assert _ok(new, EN, tok), "a rewrite must itself pass the check"
    ko = rewrite_from_passage("학생이 과제에 다시 몰입하기까지 19분이 걸렸다 [1].", 1, KO, tok, lang="ko")
    assert ko is not None and "9분가량" in ko and _ok(ko, KO, tok)


def test_rewrite_gives_up_on_an_unrelated_sentence_and_skips_what_it_is_told(tok: LexicalTokenizer) -> None:
    assert rewrite_from_passage("The moon is made of cheese [1].", 1, EN, tok) is None
    first = passage_sentences(EN.text)[0]
    sentence = "Students who used AI freely got more homework problems right [1]."
    assert rewrite_from_passage(sentence, 1, EN, tok, avoid=first) is None
    assert rewrite_from_passage(sentence, 1, EN, tok, skip=lambda s: "problems" in s) is None
