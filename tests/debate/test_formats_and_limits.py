"""Formats are data (validated on load); limits warn, then cut at a sentence boundary."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from banron.cli import app
from banron.debate.engine import slot_at
from banron.debate.formats import FormatError, Phase, formats, get_format, parse_format
from banron.debate.limits import apply_limits
from banron.domain import Side


def test_bundled_formats_and_their_json_listing() -> None:
    assert {"free", "ceda", "ld", "drill"} <= set(formats())
    out = CliRunner().invoke(app, ["formats", "--json"])
    assert out.exit_code == 0, out.output
    listed = json.loads(out.stdout)
    ceda = next(f for f in listed if f["id"] == "ceda")
    assert ceda["name_ko"] and ceda["name_en"]
    assert [p["kind"] for p in ceda["phases"]] == [
        "constructive", "cross_examination", "constructive", "cross_examination",
        "rebuttal", "rebuttal", "closing", "closing",
    ]  # fmt: skip
    assert all({"id", "speaker", "time_s", "words", "prep_s"} <= set(p) for p in ceda["phases"])
    drill = get_format("drill")
    assert all(p.time_s == 60 for p in drill.phases)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"id": "x", "name_ko": "x", "name_en": "x"}, "missing 'phases'"),
        ({"id": "x", "name_ko": "x", "name_en": "x", "phases": []}, "non-empty"),
        (
            {"id": "x", "name_ko": "x", "name_en": "x",
             "phases": [{"id": "a", "speaker": "pro", "kind": "shouting", "name_ko": "a", "name_en": "a"}]},
            "kind must be",
        ),
        (
            {"id": "x", "name_ko": "x", "name_en": "x",
             "phases": [{"id": "a", "speaker": "pro", "kind": "cross_examination", "name_ko": "a",
                         "name_en": "a"}]},
            "questions",
        ),
        (
            {"id": "x", "name_ko": "x", "name_en": "x",
             "phases": [{"id": "a", "speaker": "pro", "kind": "rebuttal", "name_ko": "a", "name_en": "a",
                         "colour": "red"}]},
            "unknown keys",
        ),
    ],
)  # fmt: skip
def test_a_bad_format_file_is_a_clear_error(data: dict, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        parse_format(data, "bad.yaml")
    with pytest.raises(FormatError, match="unknown format"):
        get_format("nope")


def test_slots_walk_the_phases_with_cross_examination_as_question_then_answer() -> None:
    ceda = get_format("ceda")
    slots = [slot_at(ceda, k, Side.CON) for k in range(11)]
    assert slots[-1] is None  # 8 phases, 2 of them cross-examination: 10 turns
    got = [(s.phase.id, s.part, s.side.value, s.speaker) for s in slots if s]
    assert got[:4] == [
        ("pro_constructive", "speech", "pro", "banron"),
        ("con_cross", "question", "con", "student"),
        ("con_cross", "answer", "pro", "banron"),
        ("con_constructive", "speech", "con", "student"),
    ]
    assert got[-1] == ("pro_closing", "speech", "pro", "banron")
    exhibition = [slot_at(ceda, k, Side.PRO, exhibition=True) for k in range(10)]
    assert all(s is not None and s.speaker == "banron" for s in exhibition)
    free = get_format("free")
    assert [slot_at(free, k, Side.PRO).speaker for k in range(5)] == [  # type: ignore[union-attr]
        "student", "banron", "student", "banron", "student",
    ]  # fmt: skip


PHASE = Phase(id="p", speaker="pro", kind="rebuttal", name_ko="반론", name_en="Rebuttal", time_s=60, words=20)


def test_limits_warn_then_cut_at_a_sentence_boundary() -> None:
    ok = apply_limits("짧은 발언입니다.", PHASE, "ko")
    assert ok.warnings == [] and not ok.cut
    over = " ".join(["단어"] * 22) + "."
    soft = apply_limits(over, PHASE, "ko")
    assert soft.text == over and not soft.cut and "넘었습니다" in soft.warnings[0]
    sentences = "This sentence has exactly seven words here. " * 5
    hard = apply_limits(sentences, PHASE, "en")
    assert hard.cut and hard.words == 21  # three whole sentences fit under 20 * 1.15
    assert hard.text.endswith("here.") and "cut off" in hard.warnings[0]
    late = apply_limits("On time? No.", PHASE, "en", elapsed_s=75)
    assert late.text == "On time? No." and "15 s over" in late.warnings[0]
