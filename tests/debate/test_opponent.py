"""The evidence-first opponent on the bundled packs, with no model (templates) and a scripted one."""

from __future__ import annotations

import json
import re

import pytest

from banron import content
from banron.config import DebateSettings
from banron.debate.claims import extract_claims
from banron.debate.opponent import Opponent, Speech
from banron.domain import Side
from banron.judge.citations import cited_numbers
from banron.kb.lang import detect_lang
from banron.llm.fake import FakeBackend
from banron.runtime import Runtime

KO_SPEECH = (
    "안녕하세요, 찬성 측입니다. 스마트폰은 수업 시간에 학생들의 집중력을 크게 떨어뜨립니다. "
    "또한 학교 폭력의 상당수가 메신저와 SNS를 통한 사이버 괴롭힘으로 일어나고 있습니다. "
    "따라서 학교 안에서는 스마트폰 사용을 금지해야 합니다. 감사합니다."
)
EN_SPEECH = (
    "Generative AI lets every student get instant, personalised feedback on their work. "
    "Banning it only drives use underground, so schools should teach students to use it well."
)


def _opponent(
    rt: Runtime, motion_id: str, side: Side, llm: FakeBackend | None = None, style: str = "auto"
) -> Opponent:
    motion = content.find_motion(motion_id)
    assert motion is not None
    return Opponent(
        retriever=rt.retriever,
        motion=motion,
        side=side,
        kbs=[content.BUNDLED_KB],
        settings=DebateSettings(style=style),  # type: ignore[arg-type]
        llm=llm,
        motion_filter=motion.id,
    )


def _speak(opp: Opponent, text: str) -> tuple[str, Speech]:
    claims = extract_claims(text, opp.retriever.tokenizer)
    pieces = list(opp.rebut(text, claims))
    speech = pieces[-1]
    assert isinstance(speech, Speech)
    return "".join(p for p in pieces[:-1] if isinstance(p, str)), speech


def test_claims_skip_greetings_and_keep_order(runtime: Runtime) -> None:
    claims = extract_claims(KO_SPEECH, runtime.tokenizer)
    assert len(claims) == 3
    assert "집중력" in claims[0].text and "사이버" in claims[1].text
    assert not any("안녕" in c.text or "감사" in c.text for c in claims)


def test_korean_rebuttal_is_korean_cited_and_on_the_other_side(runtime: Runtime) -> None:
    opp = _opponent(runtime, "phone-ban", Side.CON)
    streamed, speech = _speak(opp, KO_SPEECH)
    assert streamed.strip() == speech.text
    assert detect_lang(speech.text) == "ko"
    assert len(speech.citations) >= 2
    for c in speech.citations:
        p = runtime.index.get(c.kb, c.passage_id)
        assert p is not None, "citation must resolve to a passage of the knowledge base"
        assert p.stance in ("con", "neutral"), "banron argues con: it must not cite pro evidence"
        assert c.quote and c.quote.split()[0] in p.text
    assert set(cited_numbers(speech.text)) == {c.n for c in speech.citations}
    assert "반대합니다" in speech.text  # the closing states banron's own side


def test_english_rebuttal_for_english_speech(runtime: Runtime) -> None:
    opp = _opponent(runtime, "ai-homework", Side.CON)
    _, speech = _speak(opp, EN_SPEECH)
    assert detect_lang(speech.text) == "en"
    assert len(speech.citations) >= 2
    assert all(runtime.index.get(c.kb, c.passage_id).stance != "pro" for c in speech.citations)  # type: ignore[union-attr]
    assert "oppose" in speech.text


def test_evidence_is_not_repeated_across_turns(runtime: Runtime) -> None:
    opp = _opponent(runtime, "phone-ban", Side.CON)
    _, first = _speak(opp, KO_SPEECH)
    _, second = _speak(opp, KO_SPEECH)
    assert {c.passage_id for c in first.citations}.isdisjoint({c.passage_id for c in second.citations})


def test_model_sentences_with_unsupported_citations_are_dropped(runtime: Runtime) -> None:
    def reply(messages: list[dict[str, str]]) -> str:
        user = messages[-1]["content"]
        # Cite passage [1] faithfully (copy its text), then invent a claim and pin it on [2].
        evidence = next(line for line in user.splitlines() if line.startswith("[1] "))
        first = evidence.split("): ", 1)[1]
        invented = "Also, the moon is made of cheese and everyone knows it [2]."
        return f"{first} [1] {invented} I agree with you completely."

    opp = _opponent(runtime, "phone-ban", Side.CON, FakeBackend(reply), style="llm")
    _, speech = _speak(opp, KO_SPEECH)
    assert "cheese" not in speech.text and "agree" not in speech.text
    assert any("cheese" in s for s in speech.dropped_sentences)
    assert len(speech.citations) >= 2  # template points filled in what the model left uncited
    for c in speech.citations:
        assert runtime.index.get(c.kb, c.passage_id) is not None


def test_model_lines_that_are_no_sentence_of_the_speech_are_dropped(runtime: Runtime) -> None:
    # What SmolLM2-135M wrote in English rebuttals on Korean evidence: list numbers, Korean lines,
    # a token repeated to the length limit. None of it belongs in an English speech.
    sound = "Schools that ban the tools cannot teach students to use them with judgement."
    garbage = [
        "1. 2.",
        "1. 답을 정리하자.",
        "이름: 이름은 초보 학습자에게 유용한 도구가 아니다.",
        "2024: 2024: 2024: 2024: 2024: 2024: 2024: 2024: 2024: 2024.",
    ]
    reply = " ".join([*garbage, sound, sound, sound])
    opp = _opponent(runtime, "ai-homework", Side.CON, FakeBackend(reply), style="llm")
    _, speech = _speak(opp, EN_SPEECH)
    assert speech.text.count(sound) == 1  # said once, not as often as the model looped on it
    assert not any(g.rstrip(".") in speech.text for g in garbage[1:]) and "1. 2." not in speech.text
    assert {"1.", "답을 정리하자.", garbage[3]} <= set(speech.dropped_sentences)
    assert detect_lang(speech.text) == "en"
    # Korean evidence in an English speech is quoted one sentence at a time.
    for quote in re.findall(r"“([^”]*[가-힣][^”]*)”", speech.text):
        assert len(re.findall(r"[.!?](?:\s|$)", quote.strip() + " ")) <= 1, quote


def test_fake_backend_with_no_reply_falls_back_to_templates(runtime: Runtime) -> None:
    opp = _opponent(runtime, "homework-abolition", Side.PRO, FakeBackend(""), style="llm")
    _, speech = _speak(
        opp, "숙제는 학생들이 배운 내용을 복습하게 해서 성적을 올려 줍니다. 그래서 숙제는 꼭 필요합니다."
    )
    assert len(speech.citations) >= 2
    assert detect_lang(speech.text) == "ko"


@pytest.mark.parametrize("motion_id", [m.id for m in content.motions()])
def test_every_bundled_motion_can_be_rebutted_from_both_sides(runtime: Runtime, motion_id: str) -> None:
    motion = content.find_motion(motion_id)
    assert motion is not None
    for side in Side:
        opp = _opponent(runtime, motion_id, side)
        _, speech = _speak(opp, motion.text + ". " + motion.summary)
        assert len(speech.citations) >= 2, (motion_id, side, json.dumps(speech.text, ensure_ascii=False))


def test_a_bridge_that_restates_the_claim_is_refused(runtime: Runtime) -> None:
    from banron.debate.opponent import _Writer

    motion = content.find_motion("ai-homework")
    assert motion is not None
    opp = Opponent(runtime.retriever, motion, Side.CON, [content.BUNDLED_KB], DebateSettings())
    writer = _Writer(opp, {}, "en")
    claim = "Schools cannot reliably detect AI use, so a ban only punishes honest students."
    # What the small model wrote in a real run: the claim again, dressed as a reason.
    assert writer._restates(
        "The opponent's claim fails because schools cannot reliably detect AI use, so a ban only "
        "punishes honest students.",
        claim,
    )
    assert not writer._restates(
        "Detection is beside the point: unrestricted use leaves students with less practice.", claim
    )


def test_citation_checks_use_the_vectors_the_index_stored(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def reply(messages: list[dict[str, str]]) -> str:
        evidence = next(line for line in messages[-1]["content"].splitlines() if line.startswith("[1] "))
        return evidence.split("): ", 1)[1] + " [1]"  # one faithful, cited sentence

    embedded: list[str] = []
    real = runtime.embedder.passages

    def counting(texts):  # type: ignore[no-untyped-def]
        embedded.extend(texts)
        return real(texts)

    monkeypatch.setattr(runtime.embedder, "passages", counting)
    opp = _opponent(runtime, "phone-ban", Side.CON, FakeBackend(reply), style="llm")
    _, speech = _speak(opp, KO_SPEECH)
    assert speech.citations and embedded == []  # checked against stored vectors, none re-embedded
