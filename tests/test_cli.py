"""The `banron` command end to end (Typer's runner, real index, real embedder; no model needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from banron.cli import app
from banron.kb.index.sqlite import SQLiteIndex
from banron.kb.lang import detect_lang

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_config_show_masks_secrets_and_layers_toml_under_env(
    banron_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (banron_home / "config.toml").write_text('[llm]\nbackend = "fake"\n[kb]\nchunk_tokens = 128\n')
    monkeypatch.setenv("BANRON_LLM__OPENAI__API_KEY", "sk-very-secret-123456")
    monkeypatch.setenv("BANRON_KB__CHUNK_TOKENS", "200")
    out = run("config", "show", "--json")
    assert "sk-very-secret" not in out
    data = json.loads(out)
    assert data["llm"]["openai"]["api_key"] == "****3456"
    assert data["llm"]["backend"] == "fake"  # from the TOML file
    assert data["kb"]["chunk_tokens"] == 200  # the environment wins over the file
    assert "sk-very-secret" not in run("config", "show")


def test_malformed_config_is_a_clear_error(banron_home: Path) -> None:
    (banron_home / "config.toml").write_text("[llm\nbackend=")
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 1
    assert "config.toml" in result.output and "Traceback" not in result.output


def _spar_json(*args: str) -> list[dict]:
    """The speeches of a scripted `spar --json` run (the last line, the flow, checked and dropped)."""
    out = run("spar", *args, "--json")
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert set(lines[-1]) == {"flow"}
    return lines[:-1]


def test_scripted_korean_spar_meets_the_acceptance_checks(tmp_path: Path, banron_home: Path) -> None:
    script = tmp_path / "speeches.jsonl"
    speeches = [
        "숙제는 학생들이 배운 내용을 복습하게 해 줍니다. 숙제가 없으면 학습 습관이 무너집니다.",
        "숙제는 가정에서 부모와 소통하는 계기가 됩니다. 그리고 책임감을 길러 줍니다.",
    ]
    script.write_text(
        "\n".join(json.dumps({"text": s}, ensure_ascii=False) for s in speeches), encoding="utf-8"
    )
    turns = _spar_json(
        "--motion", "homework-abolition", "--side", "con", "--llm", "fake", "--script", str(script)
    )
    assert [t["speaker"] for t in turns] == ["student", "banron", "student", "banron"]
    index = SQLiteIndex(banron_home / "kb" / "kb.sqlite")
    for t in turns:
        assert t["lang"] == "ko" and detect_lang(t["text"]) == "ko"
        if t["speaker"] == "banron":
            assert t["side"] == "pro"
            assert len(t["citations"]) >= 2
            for c in t["citations"]:
                assert set(c) == {"n", "passage_id", "kb", "quote"}
                passage = index.get(c["kb"], c["passage_id"])
                assert passage is not None and passage.stance in ("pro", "neutral")
                assert f"[{c['n']}]" in t["text"]


def test_scripted_english_speech_gets_an_english_reply(tmp_path: Path) -> None:
    script = tmp_path / "speeches.txt"
    script.write_text(
        "AI tools give every student a patient tutor at home.\nThey also prepare students for jobs.\n\n"
        "Teachers cannot detect AI use anyway, so a ban is pointless.\n",
        encoding="utf-8",
    )
    turns = _spar_json("--motion", "ai-homework", "--side", "pro", "--llm", "fake", "--script", str(script))
    assert len(turns) == 4  # paragraphs are speeches
    for t in turns[1::2]:
        assert t["lang"] == "en" and t["side"] == "con" and len(t["citations"]) >= 2


def test_spar_on_a_users_knowledge_base_with_a_free_text_motion(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "evidence.jsonl").write_text(
        "\n".join(
            json.dumps(row, ensure_ascii=False)
            for row in [
                {
                    "id": "a",
                    "text": "교복은 학생 간 옷차림 경쟁을 줄여 가계 부담을 덜어 준다.",
                    "stance": "con",
                },
                {
                    "id": "b",
                    "text": "교복 구입비는 무상 지원 정책으로 이미 대부분 해결되었다.",
                    "stance": "con",
                },
                {
                    "id": "c",
                    "text": "교복은 계절과 활동에 맞지 않아 학생의 건강과 활동성을 해친다.",
                    "stance": "pro",
                },
                {
                    "id": "d",
                    "text": "학생들은 복장을 스스로 선택하며 자기표현과 책임을 배운다.",
                    "stance": "pro",
                },
            ]
        ),
        encoding="utf-8",
    )
    run("kb", "add", str(docs), "--kb", "uniforms")
    script = tmp_path / "s.jsonl"
    script.write_text(
        json.dumps(
            {"text": "교복은 비싸서 가정에 부담이 됩니다. 그래서 교복을 없애야 합니다."}, ensure_ascii=False
        )
    )
    turns = _spar_json(
        "--kb",
        "uniforms",
        "--motion",
        "교복을 폐지해야 한다",
        "--side",
        "pro",
        "--llm",
        "fake",
        "--script",
        str(script),
    )
    banron = turns[1]
    assert {c["kb"] for c in banron["citations"]} == {"uniforms"}
    assert {c["passage_id"] for c in banron["citations"]} <= {"a", "b"}, (
        "banron argues con: con evidence only"
    )


def test_kb_add_list_and_search_json(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text(
        "# 숙제 연구\n\n숙제는 자기주도 학습 습관을 길러 준다.\n", encoding="utf-8"
    )
    (tmp_path / "bad.jsonl").write_text('{"text": ""}\n', encoding="utf-8")
    result = runner.invoke(
        app, ["kb", "add", str(tmp_path / "notes.md"), str(tmp_path / "bad.jsonl"), "--kb", "k"]
    )
    assert result.exit_code == 0, result.output
    assert "bad.jsonl" in result.output  # the bad file is reported, the good one still goes in
    out = json.loads(run("kb", "search", "숙제를", "--kb", "k", "--json"))
    assert out and set(out[0]) == {"id", "score", "title", "text", "stance", "lang"}
    assert "숙제" in out[0]["text"] and out[0]["lang"] == "ko" and out[0]["title"] == "숙제 연구"
    listing = json.loads(run("kb", "list", "--json"))
    assert {k["name"] for k in listing} >= {"k", "bundled"}


def test_unknown_motion_and_bad_script_fail_cleanly(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["spar", "--motion", "nope", "--side", "pro", "--script", str(tmp_path / "x")]
    )
    assert result.exit_code != 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"speech": "hi"}\n')
    result = runner.invoke(
        app, ["spar", "--motion", "phone-ban", "--side", "pro", "--llm", "fake", "--script", str(bad)]
    )
    assert result.exit_code == 1 and "bad.jsonl:1" in result.output


def test_debates_are_stored_listed_and_exported(tmp_path: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text("주 4일제는 생산성을 높입니다. 직원들의 삶의 질도 좋아집니다.", encoding="utf-8")
    run("spar", "--motion", "four-day-week", "--side", "pro", "--llm", "fake", "--script", str(script))
    listing = json.loads(run("debates", "list", "--json"))
    assert len(listing) == 1 and listing[0]["turns"] == 2
    debate_id = listing[0]["id"]
    exported = json.loads(run("debates", "export", debate_id, "--format", "json"))
    assert [t["speaker"] for t in exported["turns"]] == ["student", "banron"]
    assert exported["turns"][0]["claims"], "the student's claims are stored with the turn"
    md = tmp_path / "d.md"
    run("debates", "export", debate_id, "--format", "md", "-o", str(md))
    text = md.read_text(encoding="utf-8")
    assert "주 4일제는 생산성을 높입니다" in text and "[1]" in text
    assert "banron" in run("debates", "show", debate_id)
    assert runner.invoke(app, ["debates", "show", "nope"]).exit_code == 1
