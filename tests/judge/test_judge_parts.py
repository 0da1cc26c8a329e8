"""Pieces of the judge that need no embedder: metrics, the matcher, stance direction, the coach."""

from __future__ import annotations

import json

import numpy as np
import pytest

from banron.evaluation.judge import average_precision, macro_f1, spearman
from banron.judge import coach
from banron.judge.keypoints import KeyPointMatcher
from banron.judge.rubric import DIMENSIONS, load
from banron.judge.scorecard import ClaimCheck, DimensionScore, Scorecard
from banron.judge.stance import motion_direction
from banron.llm.fake import FakeBackend


def test_average_precision_matches_hand_computed_values() -> None:
    assert average_precision([1, 0, 1], [0.9, 0.8, 0.7]) == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision([0, 1], [0.9, 0.1]) == pytest.approx(0.5)
    # Tied scores form one threshold (as scikit-learn): precision 1/2 at recall 1.
    assert average_precision([1, 0], [0.5, 0.5]) == pytest.approx(0.5)
    assert average_precision([0, 0], [0.5, 0.4]) == 0.0


def test_spearman_and_macro_f1() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 2, 3], [3, 2, 2, 1]) == pytest.approx(-1.0)
    f1, per = macro_f1(["a", "a", "b"], ["a", "b", "b"], ["a", "b"])
    assert per == {"a": pytest.approx(2 / 3), "b": pytest.approx(2 / 3)} and f1 == pytest.approx(2 / 3)


def test_matcher_prefers_the_closest_key_point_and_ranks_unsure_matches_low() -> None:
    kp = np.eye(3, dtype=np.float32)
    args = np.array([[1, 0, 0], [0.6, 0.55, 0]], dtype=np.float32)
    args /= np.linalg.norm(args, axis=1, keepdims=True)
    m = KeyPointMatcher()
    scores = m.scores(args, kp, ["x", "y"], ["p", "q", "r"])
    matches = m.match(scores)
    assert [x.key_point for x in matches] == [0, 0]
    assert matches[0].confidence > matches[1].confidence


@pytest.mark.parametrize(
    ("motion", "direction"),
    [
        ("학교 내 스마트폰 사용을 금지해야 한다", -1),
        ("주 4일 근무제를 법으로 도입해야 한다", 1),
        ("We should abolish capital punishment", -1),
        ("This house would allow students to use generative AI for their homework", 1),
        ("Assisted suicide should be a criminal offence", -1),
        ("Foster care brings more harm than good", -1),
        ("We should cancel pride parades", -1),
        ("We should fight for the abolition of nuclear weapons", -1),
        ("We should fight for women's rights", 1),
    ],
)
def test_motion_direction(motion: str, direction: int) -> None:
    assert motion_direction(motion) == direction


def _card(lang: str) -> Scorecard:
    scores = {d: DimensionScore(d, 4, "") for d in DIMENSIONS}
    scores["evidence"] = DimensionScore("evidence", 1, "")
    return Scorecard(
        id="x",
        motion="m",
        side="pro",
        lang=lang,
        rubric="free",
        scores=scores,
        overall_exact=3.2,
        quality=3.0,
        claims=[
            ClaimCheck(
                "숙제는 학생의 수면을 빼앗습니다." if lang == "ko" else "Homework steals sleep.", False
            )
        ],
        text="...",
    )


def test_the_tip_targets_the_weakest_dimension_with_the_students_words() -> None:
    tip = coach.template_tip(_card("ko"), load("free"))
    assert "「숙제는 학생의 수면을 빼앗습니다.」" in tip and "조사에 따르면" in tip
    assert "Homework steals sleep." in coach.template_tip(_card("en"), load("free"))


def test_a_chat_model_tip_is_kept_only_in_the_speeches_language() -> None:
    rubric, fallback = load("free"), "template"
    good = FakeBackend(
        json.dumps({"tip": "「숙제는 학생의 수면을 빼앗습니다.」 뒤에 수면 시간 통계를 덧붙이세요."})
    )
    assert coach.llm_tip(_card("ko"), rubric, good, fallback).startswith("「숙제는")
    assert good.calls and good.calls[0]["json_schema"] is not None
    wrong_language = FakeBackend(json.dumps({"tip": "Add a statistic about sleep after your claim."}))
    assert coach.llm_tip(_card("ko"), rubric, wrong_language, fallback) == fallback
    broken = FakeBackend("not json")
    broken.stream = lambda *a, **k: iter(["not json"])  # type: ignore[method-assign]
    assert coach.llm_tip(_card("ko"), rubric, broken, fallback) == fallback


def test_matcher_weighs_rare_shared_words_over_common_ones() -> None:
    # Equal vectors: only the lexical term decides. "ban" is in every text, "privacy" in one key
    # point and the argument, so sharing "privacy" outweighs sharing "ban" and "phones".
    vecs = np.ones((1, 3), dtype=np.float32) / np.sqrt(3)
    m = KeyPointMatcher()
    scores = m.scores(
        vecs,
        np.repeat(vecs, 2, axis=0),
        ["ban phones because privacy matters"],
        ["ban phones privacy", "ban phones distraction"],
    )
    assert scores[0, 0] > scores[0, 1]


def test_matcher_confidence_rewards_standing_out_for_a_key_point() -> None:
    scores = np.array([[0.9, 0.1], [0.5, 0.1], [0.5, 0.1]])
    matches = KeyPointMatcher().match(scores)
    assert [x.key_point for x in matches] == [0, 0, 0]
    assert matches[0].confidence > matches[1].confidence == matches[2].confidence
