"""`banron judge` and `banron eval judge` end to end (Typer's runner, real embedder, no chat model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from banron.cli import app

runner = CliRunner()

SPEECHES = [
    {
        "id": "a1",
        "motion": "학교 내 스마트폰 사용을 금지해야 한다",
        "side": "pro",
        "text": "첫째, 스마트폰은 수업 집중을 방해합니다. "
        "교사 설문에서 절반이 수업 진행이 어렵다고 답했습니다. "
        "따라서 금지해야 합니다.",
        "date": "2026-03-02",
    },
    {
        "id": "a2",
        "motion": "학교 내 스마트폰 사용을 금지해야 한다",
        "side": "con",
        "text": "다른 학교들도 다 휴대폰을 허용하니 우리도 허용하는 것이 옳습니다.",
        "date": "2026-03-09",
    },
    {
        "id": "b1",
        "motion": "Homework should be abolished",
        "side": "pro",
        "text": "Homework is useless. Everyone hates it.",
    },
]
FALLACY_VALUES = {
    None,
    "ad_hominem",
    "straw_man",
    "slippery_slope",
    "hasty_generalization",
    "false_dilemma",
    "appeal_to_popularity",
}


@pytest.fixture
def speeches(tmp_path: Path) -> Path:
    path = tmp_path / "speeches.jsonl"
    path.write_text("\n".join(json.dumps(s, ensure_ascii=False) for s in SPEECHES) + "\n", encoding="utf-8")
    return path


def test_judge_json_follows_the_issue_schema(speeches: Path, tmp_path: Path) -> None:
    html, md = tmp_path / "report.html", tmp_path / "report.md"
    result = runner.invoke(
        app, ["judge", "--speeches", str(speeches), "--json", "--html", str(html), "--md", str(md)]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [x["id"] for x in lines] == ["a1", "a2", "b1"]
    for out in lines:
        assert set(out["scores"]) == {"argument", "evidence", "clash", "organization", "language"}
        assert all(isinstance(v, int) and 1 <= v <= 5 for v in out["scores"].values())
        assert isinstance(out["overall"], int) and 1 <= out["overall"] <= 5
        assert out["fallacy"] in FALLACY_VALUES
        assert isinstance(out["fallacies"], list)
        for f in out["fallacies"]:
            assert f["type"] in FALLACY_VALUES - {None} and isinstance(f["sentence"], str)
        assert out["fallacy"] == (out["fallacies"][0]["type"] if out["fallacies"] else None)
        assert isinstance(out["claims"], list) and out["claims"]
        assert all(isinstance(c["text"], str) and isinstance(c["supported"], bool) for c in out["claims"])
        assert isinstance(out["evidence_used"], bool)
        assert isinstance(out["key_points"], list) and all(isinstance(k, str) for k in out["key_points"])
        assert isinstance(out["feedback"], str) and out["feedback"]
        assert set(out["reasons"]) == set(out["scores"])
    assert lines[0]["evidence_used"] is True
    assert lines[1]["fallacy"] == "appeal_to_popularity"
    assert lines[2]["lang"] == "en"
    assert html.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert "| " in md.read_text(encoding="utf-8")


def test_judge_prints_a_readable_scorecard(speeches: Path) -> None:
    result = runner.invoke(app, ["judge", "--speeches", str(speeches)], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "논리 (argument)" in result.stdout and "Argument" in result.stdout
    assert "대중에 호소" in result.stdout
    assert "팁" in result.stdout and "tip" in result.stdout


def test_judge_rejects_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "side": "maybe", "text": "hi"}\n', encoding="utf-8")
    result = runner.invoke(app, ["judge", "--speeches", str(bad), "--json"])
    assert result.exit_code == 1
    assert "side" in result.output
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    assert runner.invoke(app, ["judge", "--speeches", str(bad)]).exit_code == 1
    result = runner.invoke(app, ["judge", "--speeches", str(bad.with_name("missing.jsonl"))])
    assert result.exit_code == 1


def test_eval_judge_skips_cleanly_without_shared_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BANRON_SHARED_DATA", str(tmp_path / "absent"))
    out = tmp_path / "eval.json"
    result = runner.invoke(
        app, ["eval", "judge", "--task", "argq", "--task", "argkp", "--task", "stance", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "not found" in result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["results"] == {}
    assert len(report["notes"]) == 3


def test_judge_with_a_knowledge_base_links_claims_to_passages(tmp_path: Path) -> None:
    path = tmp_path / "kb.jsonl"
    speech = {
        "id": "k",
        "motion": "학교 내 스마트폰 사용을 금지해야 한다",
        "side": "pro",
        "text": "휴대전화 알림을 확인한 학생은 다시 과제에 "
        "몰입하기까지 평균 9분가량이 걸립니다. 그래서 금지해야 합니다.",
    }
    path.write_text(json.dumps(speech, ensure_ascii=False) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["judge", "--speeches", str(path), "--kb", "bundled", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    backed = [c for c in out["claims"] if "kb" in c["support"]]
    assert backed and backed[0]["passage_id"].startswith("phone-ban-")
    assert out["evidence_used"] is True
