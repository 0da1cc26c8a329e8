"""The per-speech judge on real e5 vectors and mecab-ko (no chat model): fallacies, scores, key points."""

from __future__ import annotations

import re

import pytest

from banron.judge.fallacies import FALLACIES
from banron.judge.rubric import DIMENSIONS
from banron.judge.speech import SpeechInput, SpeechJudge
from banron.kb.embed import get_embedder
from banron.kb.tokenize import make_tokenizer

PHONES = "학교 내 스마트폰 사용을 금지해야 한다"


@pytest.fixture(scope="module")
def judge() -> SpeechJudge:
    # Key phrases cost ~20 extra embeddings per speech; only their own tests ask for them.
    return SpeechJudge(get_embedder(), make_tokenizer("mecab"), key_points=0)


@pytest.fixture(scope="module")
def judge_kp() -> SpeechJudge:
    return SpeechJudge(get_embedder(), make_tokenizer("mecab"))


# One speech per fallacy, on a motion and in words that appear in neither the training sentences
# nor the evaluation set.
FALLACY_SPEECHES = {
    "ad_hominem": "급식 개선이 필요합니다. 반대측 토론자는 "
    "매일 급식을 남기는 편식쟁이라서 그 주장은 들을 가치가 없습니다.",
    "straw_man": "상대측은 급식 메뉴를 학생이 고르게 하자고 했습니다. 한마디로 영양은 아무래도 좋으니 "
    "먹고 싶은 것만 먹자는 주장입니다.",
    "slippery_slope": "급식 메뉴를 학생 투표로 정하면 영양사가 필요 없어지고, 그러면 급식실이 문을 닫고, "
    "결국 학생들이 모두 굶게 될 것입니다.",
    "hasty_generalization": "어제 제 친구가 급식을 "
    "먹고 배탈이 났습니다. 그러니 우리 학교 급식은 전부 위험합니다.",
    "false_dilemma": "급식비를 올리든지 학생들이 맛없는 밥을 먹든지, 둘 중 하나를 선택해야 합니다.",
    "appeal_to_popularity": "전교생 대부분이 급식 메뉴 투표에 찬성하니 이 제도가 옳다는 것은 분명합니다.",
}


@pytest.mark.parametrize("kind", FALLACIES)
def test_each_fallacy_is_detected_with_its_sentence(judge: SpeechJudge, kind: str) -> None:
    text = FALLACY_SPEECHES[kind]
    card = judge.judge(SpeechInput("f", "학생이 급식 메뉴를 정해야 한다", "pro", text))
    assert card.fallacy == kind, [f.to_dict() for f in card.fallacies]
    assert card.fallacies[0].sentence in text


def test_a_sound_speech_has_no_fallacy(judge: SpeechJudge) -> None:
    text = (
        "급식 만족도 조사에서 학생의 45%가 메뉴 다양성을 가장 큰 불만으로 꼽았습니다. "
        "학생이 메뉴 선정에 참여하면 잔반이 줄어든다는 교육청 보고서도 있습니다."
    )
    card = judge.judge(SpeechInput("n", "학생이 급식 메뉴를 정해야 한다", "pro", text))
    assert card.fallacies == []


WEAK = "폰 금지 찬성임. 그냥 폰은 안 좋음 ㅋㅋ"
STRONG = (
    "안녕하십니까, 찬성측 첫 번째 토론자입니다. 첫째, 스마트폰은 수업 집중력을 떨어뜨립니다. "
    "한국교육개발원 조사에 따르면 수업 중 알림을 받은 학생의 62%가 다시 집중하는 데 5분 이상 걸렸습니다. "
    "둘째, 반대측은 비상 연락 때문에 휴대폰이 필요하다고 했지만, "
    "교무실 전화와 보관함 제도로 충분히 해결할 수 있습니다. "
    "따라서 수업 중 스마트폰 금지는 학생의 학습권을 지키는 가장 현실적인 방법입니다."
)


def test_scores_move_the_right_way_between_a_weak_and_a_strong_speech(judge: SpeechJudge) -> None:
    weak = judge.judge(SpeechInput("w", PHONES, "pro", WEAK))
    strong = judge.judge(SpeechInput("s", PHONES, "pro", STRONG))
    for d in DIMENSIONS:
        assert strong.score(d) >= weak.score(d), d
    for d in ("argument", "evidence", "clash", "organization", "language"):
        assert strong.score(d) > weak.score(d), d
    assert strong.overall > weak.overall
    assert strong.evidence_used and not weak.evidence_used
    assert weak.unsupported_claims and not strong.unsupported_claims
    assert strong.quality > weak.quality


def test_reasons_quote_the_student_and_the_tip_is_concrete(judge: SpeechJudge) -> None:
    card = judge.judge(SpeechInput("s", PHONES, "pro", STRONG))
    quoted = 0
    for d in DIMENSIONS:
        m = re.search(r"「(.+?)」", card.scores[d].reason)
        if m:
            quoted += 1
            assert m.group(1).rstrip("…") in " ".join(STRONG.split())
    assert quoted >= 4
    weak = judge.judge(SpeechInput("w", PHONES, "pro", WEAK))
    assert "「" in weak.feedback and len(weak.feedback) > 20


def test_korean_key_points_are_korean_content_words(judge_kp: SpeechJudge) -> None:
    card = judge_kp.judge(SpeechInput("s", PHONES, "pro", STRONG))
    assert 1 <= len(card.key_points) <= 3
    for phrase in card.key_points:
        for word in phrase.split():
            assert re.fullmatch(r"[가-힣0-9]+", word), phrase
            assert word in STRONG
            # Particles and endings are split off: no "스마트폰은", "집중력을".
            assert not re.search(r"(은|는|이|가|을|를|에|의|도|로|와|과)$", word) or word in {
                "학생의",
            }, phrase
    assert any("스마트폰" in k or "집중력" in k or "비상 연락" in k for k in card.key_points)


def test_english_speech_is_judged_in_english(judge_kp: SpeechJudge) -> None:
    text = (
        "First, phones break concentration: a 2023 survey found 72 percent of teachers call them a major "
        "distraction. My opponents say parents need to reach children, but the school office can do that. "
        "Therefore a classroom ban protects learning."
    )
    card = judge_kp.judge(SpeechInput("e", "Schools should ban smartphones", "pro", text))
    assert card.lang == "en"
    assert card.evidence_used
    assert card.score("clash") >= 4
    assert all(re.search(r"[A-Za-z]", k) for k in card.key_points)
    assert not re.search(r"[가-힣]", card.feedback + "".join(s.reason for s in card.scores.values()))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (
            "Uniforms save money. My opponent is a hypocrite who has never paid for clothes, so ignore him.",
            "ad_hominem",
        ),
        ("Either we make uniforms compulsory or our schools will descend into chaos.", "false_dilemma"),
        ("Most parents support uniforms, so they must be right.", "appeal_to_popularity"),
        ("Uniforms cost families about 300 dollars a year, according to a 2022 survey.", None),
    ],
)
def test_english_fallacies_use_a_stricter_threshold_but_are_still_found(
    judge: SpeechJudge, text: str, kind: str | None
) -> None:
    card = judge.judge(SpeechInput("e", "School uniforms should be compulsory", "pro", text))
    assert card.fallacy == kind
