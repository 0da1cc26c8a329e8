"""The debate engine end to end on the bundled evidence (fake model: banron's speeches are
evidence-first templates, which is what the embedded defaults give in Korean)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from banron.config import Settings
from banron.content import find_motion
from banron.debate.engine import DebateEngine, TurnError
from banron.debate.flow import Flow
from banron.debate.formats import get_format
from banron.domain import Claim, Side, Turn
from banron.runtime import Runtime
from banron.store.sqlite import DebateStore

KO_SPEECHES = [
    "학교에서 스마트폰을 금지하면 수업 집중도가 높아집니다. 알림 때문에 학생들이 자주 산만해집니다. "
    "또한 스마트폰 금지는 교내 사이버 폭력을 줄입니다.",
    "비상 연락은 학교 대표 전화로 충분합니다. 수업 도구는 학교 태블릿으로 대신할 수 있습니다.",
    "반대 측은 비상 연락이 필요하다고 했는데, 학교 전화로 부족하다는 근거가 있습니까? "
    "건강 관리 앱이 필요한 학생은 예외로 하면 되지 않습니까?",
    "반대 측은 자율성을 말하지만 청소년은 스스로 사용 시간을 조절하기 어렵습니다. "
    "금지 이후 하위권 학생들의 성적이 크게 올랐습니다.",
    "결국 집중력과 안전이라는 두 쟁점에서 찬성 측의 근거가 더 강합니다. 그래서 금지해야 합니다.",
]


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    settings = Settings(home=tmp_path_factory.mktemp("engine_home"))
    settings.llm.backend = "fake"
    runtime = Runtime(settings)
    runtime.ensure_bundled()
    return runtime


def _run(engine: DebateEngine, speeches: list[str]) -> list[Turn]:
    queue = list(speeches)
    while (slot := engine.slot) is not None:
        if slot.speaker == "student":
            if not queue:
                break
            engine.submit(queue.pop(0))
        else:
            pieces = [x for x in engine.speak() if isinstance(x, str)]
            assert "".join(pieces).strip() == engine.turns[-1].text  # what streamed is what was stored
    return engine.turns


def _check_banron_turn(rt: Runtime, turn: Turn, side: Side) -> None:
    assert turn.side is side
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", turn.text)}
    assert cited == {c.n for c in turn.citations}
    for c in turn.citations:
        passage = rt.index.get(c.kb, c.passage_id)
        assert passage is not None and passage.stance in (side.value, "neutral")


def test_a_full_korean_ceda_debate(rt: Runtime, tmp_path: Path) -> None:
    store = DebateStore(tmp_path / "d.sqlite")
    engine = DebateEngine.create(
        rt, fmt=get_format("ceda"), motion=find_motion("phone-ban"),  # type: ignore[arg-type]
        student_side=Side.PRO, lang="ko", kbs=["bundled"], store=store,
    )  # fmt: skip
    turns = _run(engine, KO_SPEECHES)
    assert engine.finished and len(turns) == 10
    assert [t.speaker for t in turns].count("student") == 5
    by_phase = {(t.phase, t.part): t for t in turns}
    for t in turns:
        if t.speaker == "banron":
            _check_banron_turn(rt, t, Side.CON)
            assert "한다" in t.text or "니다" in t.text  # Korean speech
    # Cross-examination: banron asks about the student's claims, then answers without conceding.
    questions = by_phase[("con_cross", "question")]
    assert questions.text.count("?") >= 2 and questions.citations
    assert all(c.answers and c.answers[0].startswith("t1c") for c in questions.claims)
    answers = by_phase[("pro_cross", "answer")]
    assert "반대" in answers.text and len(answers.citations) >= 1
    # The second constructive builds a case and answers the first one.
    case = by_phase[("con_constructive", "speech")]
    assert case.speaker == "banron" and len(case.citations) >= 2
    assert [c for c in case.claims if not c.answers] and [c for c in case.claims if c.answers]
    rebuttal = by_phase[("con_rebuttal", "speech")]
    assert rebuttal.speaker == "banron" and len(rebuttal.citations) >= 1
    closing = by_phase[("con_closing", "speech")]
    assert "쟁점" in closing.text and "반대합니다" in closing.text
    # Everything, flow included, is in the store, and the debate is marked finished.
    assert store.turns(engine.record.id) == turns  # type: ignore[union-attr]
    assert store.get_debate(engine.record.id).status == "finished"  # type: ignore[union-attr]
    flow = engine.flow
    assert len(flow.columns) == 6 and flow.threads()  # cross-examination is not on the flow
    assert any(c.answers for t in turns if t.speaker == "banron" for c in t.claims)


def test_an_english_drill_with_student_on_con(rt: Runtime) -> None:
    engine = DebateEngine.create(
        rt, fmt=get_format("drill"), motion=find_motion("ai-homework"),  # type: ignore[arg-type]
        student_side=Side.CON, lang="en", kbs=["bundled"], store=None,
    )  # fmt: skip
    speeches = [
        "AI homework help lets students skip the thinking that homework exists to train. "
        "Teachers can no longer tell what a student actually understands.",
        "My opponent says AI is a tutor, but a tutor that hands over answers teaches nothing.",
    ]
    turns = _run(engine, speeches)
    assert engine.finished
    assert [(t.phase, t.speaker) for t in turns] == [
        ("pro_constructive", "banron"), ("con_constructive", "student"),
        ("pro_rebuttal", "banron"), ("con_rebuttal", "student"),
    ]  # fmt: skip
    for t in turns:
        if t.speaker == "banron":
            _check_banron_turn(rt, t, Side.PRO)
            assert t.lang == "en" and "support" in t.text
            assert len(t.citations) >= (2 if t.phase == "pro_constructive" else 1)  # 60 s: one point
    with pytest.raises(TurnError):
        engine.submit("one more")


def test_turns_out_of_order_are_refused(rt: Runtime) -> None:
    engine = DebateEngine.create(
        rt, fmt=get_format("ceda"), motion=find_motion("phone-ban"),  # type: ignore[arg-type]
        student_side=Side.CON, lang="ko", kbs=["bundled"], store=None,
    )  # fmt: skip
    with pytest.raises(TurnError, match="banron"):
        engine.submit("제가 먼저 말하겠습니다.")
    list(engine.speak())
    with pytest.raises(TurnError, match="student"):
        list(engine.speak())
    with pytest.raises(ValueError):
        engine.submit("   ")


def test_an_exhibition_runs_both_sides(rt: Runtime) -> None:
    engine = DebateEngine.create(
        rt, fmt=get_format("drill"), motion=find_motion("four-day-week"),  # type: ignore[arg-type]
        student_side=Side.PRO, lang="ko", kbs=["bundled"], store=None, exhibition=True,
    )  # fmt: skip
    turns = list(t for t in engine.run_banron() if isinstance(t, Turn))
    assert engine.finished and [t.side.value for t in turns] == ["pro", "con", "pro", "con"]
    for t in turns:
        _check_banron_turn(rt, t, t.side)
        assert t.citations
    # Each rebuttal answers the other side's case: the flow links them.
    assert any(c.answers for c in turns[2].claims) and any(c.answers for c in turns[3].claims)


def test_resume_picks_up_at_the_first_missing_turn(rt: Runtime, tmp_path: Path) -> None:
    store = DebateStore(tmp_path / "d.sqlite")
    engine = DebateEngine.create(
        rt, fmt=get_format("ceda"), motion=find_motion("phone-ban"),  # type: ignore[arg-type]
        student_side=Side.PRO, lang="ko", kbs=["bundled"], store=store,
    )  # fmt: skip
    engine.submit(KO_SPEECHES[0])
    list(engine.speak())  # banron's questions
    before = store.turns(engine.record.id)  # type: ignore[union-attr]
    again = DebateEngine.resume(rt, store, engine.record.id)  # type: ignore[union-attr]
    assert again.turns == before and again.slot is not None and again.slot.phase.id == "con_cross"
    assert again.slot.part == "answer" and again.slot.speaker == "student"
    # Evidence banron already cited counts as used after the restart too.
    assert {c.passage_id for c in before[1].citations} <= again.speakers[Side.CON].opp.used
    _run(again, KO_SPEECHES[1:])
    assert again.finished and len(store.turns(again.record.id)) == 10  # type: ignore[union-attr]


def test_dropped_claims_are_the_ones_never_answered_when_there_was_a_chance() -> None:
    def turn(n: int, side: Side, claims: list[Claim]) -> Turn:
        return Turn(n, "student", side, "ko", "…", claims=claims, phase=f"p{n}")

    turns = [
        turn(1, Side.PRO, [Claim("a", "A"), Claim("b", "B")]),
        turn(2, Side.CON, [Claim("x", "X", ("a",)), Claim("y", "Y")]),
        turn(3, Side.PRO, [Claim("c", "C", ("x",))]),
        turn(4, Side.CON, [Claim("z", "Z")]),
    ]
    flow = Flow.from_turns(turns)
    # b: con spoke after it and never answered. y: pro answered x only. c: con spoke after it.
    # z: the last speech, nobody could answer it.
    assert {e.id for e in flow.dropped()} == {"b", "y", "c"}
    threads = {t.root: [e.id for e in t.entries] for t in flow.threads()}
    assert threads["a"] == ["a", "x", "c"] and threads["z"] == ["z"]
    header, rows = flow.sheet()
    assert len(header) == 4 and len(rows) == len(threads)
    assert "✗dropped" in flow.to_markdown()


def test_the_terminal_loop_runs_commands_and_pauses_for_resume(rt: Runtime, tmp_path: Path) -> None:
    from io import StringIO

    from rich.console import Console

    from banron.debate.terminal import run_interactive

    store = DebateStore(tmp_path / "d.sqlite")
    engine = DebateEngine.create(
        rt, fmt=get_format("drill"), motion=find_motion("phone-ban"),  # type: ignore[arg-type]
        student_side=Side.PRO, lang="ko", kbs=["bundled"], store=store,
    )  # fmt: skip
    saved = tmp_path / "out.md"
    # the speech; Enter to end the 30 s preparation before the rebuttal; commands; quit mid-debate
    inputs = iter([KO_SPEECHES[0], "", "/flow", "/timeline", "/evidence", f"/save {saved}", "/quit"])
    out = StringIO()
    run_interactive(engine, Console(file=out, width=120), read=lambda prompt: next(inputs))
    text = out.getvalue()
    assert "플로 시트" in text and "찬성 입론" in text  # the flow sheet and the timeline were shown
    assert "banron --resume" not in text and f"--resume {engine.record.id}" in text  # type: ignore[union-attr]
    assert saved.exists() and "## Flow" in saved.read_text(encoding="utf-8")
    assert [t.speaker for t in store.turns(engine.record.id)] == ["student", "banron"]  # type: ignore[union-attr]


def _model_citing_its_evidence(messages: list[dict[str, str]]) -> str:
    """A stand-in for an API model: restates the first sentence of each numbered passage, cited."""
    import re as _re

    out = []
    for n, body in _re.findall(r"^\[(\d+)\] «(.*?)»$", messages[-1]["content"], flags=_re.M):
        text = body.split("): ", 1)[-1]
        first = _re.split(r"(?<=[.!?다])\s", text, maxsplit=1)[0].rstrip(".")
        out.append(f"{first} [{n}].")
    return " ".join(out)


def test_an_api_style_model_writes_the_case_and_the_closing(rt: Runtime) -> None:
    from banron.config import DebateSettings
    from banron.llm.fake import FakeBackend

    engine = DebateEngine.create(
        rt, fmt=get_format("drill"), motion=find_motion("phone-ban"),  # type: ignore[arg-type]
        student_side=Side.CON, lang="ko", kbs=["bundled"], store=None,
    )  # fmt: skip
    opp = engine.speakers[Side.PRO].opp
    opp.llm = FakeBackend(_model_citing_its_evidence)
    opp.settings = DebateSettings(style="llm")
    case = next(t for t in engine.run_banron() if isinstance(t, Turn))
    assert case.phase == "pro_constructive" and len(case.citations) >= 2
    assert "입론을 시작하겠습니다" not in case.text  # the model's words, not the template's
    assert case.claims and all(c.text for c in case.claims)
    for c in case.citations:
        passage = rt.index.get(c.kb, c.passage_id)
        assert passage is not None and passage.stance in ("pro", "neutral")


def _spy_on_prefetch(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The texts handed to the embedder's prefetch, one list per call (nothing is embedded)."""
    asked: list[list[str]] = []
    monkeypatch.setattr(rt.embedder, "prefetch", lambda texts: asked.append(list(texts)), raising=False)
    return asked


def _free_debate(rt: Runtime, tmp_path: Path) -> DebateEngine:
    return DebateEngine.create(
        rt, fmt=get_format("free"), motion=find_motion("phone-ban"),  # type: ignore[arg-type]
        student_side=Side.PRO, lang="ko", kbs=["bundled"], store=DebateStore(tmp_path / "d.sqlite"),
    )  # fmt: skip


def test_a_stored_turns_claims_are_embedded_ahead_of_the_turn_that_needs_them(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The student's first claims (banron searches with them) and banron's claims (the student's
    answer is linked to them) are handed to the embedder's prefetch as soon as their turn is
    stored; claims the flow has already embedded are not handed over again."""
    asked = _spy_on_prefetch(rt, monkeypatch)
    engine = _free_debate(rt, tmp_path)
    first = engine.submit(KO_SPEECHES[0])
    assert first.claims and asked == [[c.text for c in first.claims]]
    banron = [t for t in engine.run_banron() if isinstance(t, Turn)][-1]
    assert banron.claims and asked[-1] == [c.text for c in banron.claims]
    n = len(asked)
    engine.submit(KO_SPEECHES[1])  # linked to banron's claims: embedded already, nothing to prefetch
    assert len(asked) == n


def test_a_draft_is_read_ahead_without_storing_anything(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """read_ahead lists the claims a submit of the draft would make and hands the finished
    sentences' claims to the prefetch; the sentence still being typed is listed, not embedded.
    Nothing is stored, and in banron's turn there is nothing to read."""
    asked = _spy_on_prefetch(rt, monkeypatch)
    engine = _free_debate(rt, tmp_path)
    typing = KO_SPEECHES[0] + " 그리고 수업 시간에 게임을 하는 학생"
    claims = engine.read_ahead(typing)
    assert claims is not None and engine.turns == []
    texts = [c.text for c in claims]
    assert texts[-1] == "그리고 수업 시간에 게임을 하는 학생" and asked == [texts[:-1]]
    assert engine.read_ahead("   ") == [] and len(asked) == 1
    done = engine.read_ahead(KO_SPEECHES[0])
    assert done is not None and asked[-1] == [c.text for c in done]  # every sentence ended
    stored = engine.submit(KO_SPEECHES[0])
    assert [c.text for c in stored.claims] == [c.text for c in done]
    assert engine.read_ahead(KO_SPEECHES[1]) is None  # banron's turn
