"""End-of-debate verdicts: clashes decided on the flow, dropped claims counted, steps for the student."""

from __future__ import annotations

import pytest

from banron.domain import Citation, Claim, Side, Turn
from banron.judge.adjudicate import adjudicate
from banron.judge.speech import SpeechJudge
from banron.kb.embed import get_embedder
from banron.kb.tokenize import make_tokenizer


@pytest.fixture(scope="module")
def judge() -> SpeechJudge:
    return SpeechJudge(get_embedder(), make_tokenizer("mecab"), key_points=0, rubric_name="ceda")


def _cite(n: int) -> Citation:
    return Citation(n, f"p{n}", "bundled", "인용문")


def _debate() -> list[Turn]:
    """Student (pro) opens two claims; banron answers one with evidence and adds its own; the student
    answers banron's answer with a bare assertion and never touches banron's own point."""
    s1 = "숙제는 복습 습관을 길러 줍니다. 숙제가 없으면 배운 내용을 금방 잊습니다."
    b2 = (
        "한 조사에 따르면 숙제 시간과 성적의 관계는 초등학생에게서 거의 없었다 [1]. "
        "또한 과도한 숙제는 수면을 줄인다 [2]."
    )
    s3 = "상대측 말은 틀렸습니다. 숙제가 없으면 학생들은 공부하지 않습니다."
    b4 = "상대측은 근거 없이 조사를 부정했을 뿐이며, 자료는 그대로입니다 [1]."
    return [
        Turn(1, "student", Side.PRO, "ko", s1, phase="pro_constructive",
             claims=[Claim("t1c1", "숙제는 복습 습관을 길러 줍니다."),
                     Claim("t1c2", "숙제가 없으면 배운 내용을 금방 잊습니다.")]),
        Turn(2, "banron", Side.CON, "ko", b2, phase="con_constructive", citations=[_cite(1), _cite(2)],
             claims=[Claim("t2c1", "숙제 시간과 성적의 관계는 초등학생에게서 거의 없었다", ("t1c1",)),
                     Claim("t2c2", "과도한 숙제는 수면을 줄인다")]),
        Turn(3, "student", Side.PRO, "ko", s3, phase="pro_rebuttal",
             claims=[Claim("t3c1", "상대측 말은 틀렸습니다.", ("t2c1",))]),
        Turn(4, "banron", Side.CON, "ko", b4, phase="con_rebuttal", citations=[_cite(1)],
             claims=[Claim("t4c1", "자료는 그대로입니다", ("t3c1",))]),
    ]  # fmt: skip


def test_the_verdict_follows_the_flow(judge: SpeechJudge) -> None:
    verdict = adjudicate(_debate(), judge, motion="숙제를 폐지해야 한다", student_side=Side.PRO, lang="ko")
    assert verdict.winner is Side.CON
    (clash,) = verdict.clashes  # one thread both sides argued: t1c1 -> t2c1 -> t3c1 -> t4c1
    assert clash.winner is Side.CON and clash.last.id == "t4c1" and clash.supported
    # t1c2 was never answered by banron although it spoke after; t2c2 never by the student.
    assert [e.id for e in verdict.dropped[Side.PRO]] == ["t1c2"]
    assert [e.id for e in verdict.dropped[Side.CON]] == ["t2c2"]
    assert any("숙제 시간과" in r or "가져갔습니다" in r for r in verdict.reasons)
    assert verdict.next_steps and "과도한 숙제는 수면을 줄인다" in verdict.next_steps[0]
    data = verdict.to_dict()
    assert data["winner"] == "con" and set(data["points"]) == {"pro", "con"}
    assert set(data["totals"]) == {"pro", "con"} and len(data["speeches"]) == 4
    assert data["dropped"] == {"pro": ["t1c2"], "con": ["t2c2"]}


def test_a_supported_answer_beats_a_bare_last_word(judge: SpeechJudge) -> None:
    turns = _debate()[:3]  # the student has the last word in the clash, but without support
    verdict = adjudicate(turns, judge, motion="숙제를 폐지해야 한다", student_side=Side.PRO, lang="ko")
    (clash,) = verdict.clashes
    assert clash.last.id == "t3c1" and not clash.supported
    assert clash.winner is Side.CON
