"""`banron debate` and `banron formats` from the outside: scripted runs, JSON, kill -9 and resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from banron.cli import app

runner = CliRunner()

KO = [
    "학교에서 스마트폰을 금지하면 수업 집중도가 높아집니다. 알림 때문에 학생들이 자주 산만해집니다.",
    "비상 연락은 학교 대표 전화로 충분합니다. 수업 도구는 학교 태블릿으로 대신할 수 있습니다.",
    "반대 측은 비상 연락이 필요하다고 했는데, 학교 전화로 부족하다는 근거가 있습니까?",
    "청소년은 스스로 사용 시간을 조절하기 어렵습니다. 금지 이후 하위권 학생들의 성적이 올랐습니다.",
    "결국 집중력과 안전이라는 두 쟁점에서 찬성 측의 근거가 더 강합니다.",
]


def _script(path: Path, speeches: list[str]) -> Path:
    path.write_text(
        "\n".join(json.dumps({"text": s}, ensure_ascii=False) for s in speeches), encoding="utf-8"
    )
    return path


def test_scripted_ceda_prints_one_object_per_speech_and_the_flow(tmp_path: Path) -> None:
    script = _script(tmp_path / "s.jsonl", KO)
    result = runner.invoke(
        app,
        ["debate", "--format", "ceda", "--motion", "phone-ban", "--side", "pro", "--llm", "fake",
         "--script", str(script), "--json"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.strip()]
    speeches, final = lines[:-1], lines[-1]
    assert len(speeches) == 10
    for s in speeches:
        assert {"phase", "speaker", "side", "lang", "text", "citations", "claims"} <= set(s)
        assert s["lang"] == "ko"
        for c in s["claims"]:
            assert set(c) == {"id", "text", "answers"}
        for c in s["citations"]:
            assert set(c) == {"n", "passage_id", "kb", "quote"}
    assert [s["speaker"] for s in speeches if s["side"] == "con"] == ["banron"] * 5
    flow = final["flow"]
    assert flow["threads"] and all(set(d) == {"claim_id", "side"} for d in flow["dropped"])
    ids = {c["id"] for s in speeches if s["part"] == "speech" for c in s["claims"]}
    assert {d["claim_id"] for d in flow["dropped"]} <= ids
    listing = json.loads(runner.invoke(app, ["debates", "list", "--json"]).stdout)
    exported = json.loads(
        runner.invoke(app, ["debates", "export", listing[0]["id"], "--format", "json"]).stdout
    )
    assert exported["format"] == "ceda" and exported["status"] == "finished"
    assert exported["flow"]["dropped"] == flow["dropped"]
    # The judge's verdict on the stored debate, grounded in the same flow.
    verdict_run = runner.invoke(app, ["judge", "--debate", listing[0]["id"], "--json"])
    assert verdict_run.exit_code == 0, verdict_run.output
    verdict = json.loads(verdict_run.stdout)
    assert verdict["winner"] in ("pro", "con") and verdict["reasons"] and verdict["next_steps"]
    assert set(verdict["totals"]) == {"pro", "con"} and len(verdict["speeches"]) == 6
    assert {c for side in verdict["dropped"].values() for c in side} == {
        d["claim_id"] for d in flow["dropped"]
    }
    assert runner.invoke(app, ["judge", "--debate", "nope"]).exit_code == 1


def test_exhibition_and_bad_format(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["debate", "--exhibition", "--format", "drill", "--motion", "ai-homework", "--llm", "fake", "--json"],
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.strip()]
    assert [(x["speaker"], x["side"]) for x in lines[:-1]] == [
        ("banron", "pro"), ("banron", "con"), ("banron", "pro"), ("banron", "con"),
    ]  # fmt: skip
    bad = runner.invoke(app, ["debate", "--format", "nope", "--motion", "phone-ban", "--side", "pro",
                              "--script", str(_script(tmp_path / "s.jsonl", KO))])  # fmt: skip
    assert bad.exit_code == 1 and "unknown format" in bad.output


def _turns(db: Path) -> list[tuple[int, str, str]]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT n, speaker, text FROM turns ORDER BY n").fetchall()
    except sqlite3.OperationalError:  # not migrated yet
        return []


def test_kill_9_mid_debate_then_resume_loses_no_completed_turn(tmp_path: Path, banron_home: Path) -> None:
    env = {**os.environ, "BANRON_HOME": str(banron_home), "BANRON_LLM__BACKEND": "fake"}
    script = _script(tmp_path / "all.jsonl", KO)
    cmd = [sys.executable, "-m", "banron.cli", "debate", "--format", "ceda", "--motion", "phone-ban",
           "--side", "pro", "--script", str(script), "--json"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = banron_home / "debates.sqlite"
    deadline = time.monotonic() + 240
    try:
        while len(_turns(db)) < 4:
            assert proc.poll() is None, "the debate ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)  # mid-debate, possibly mid-speech
    finally:
        proc.wait(timeout=30)
    survived = _turns(db)
    assert 4 <= len(survived) < 10
    assert [n for n, _, _ in survived] == list(range(1, len(survived) + 1))  # no gap, no half turn
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        debate_id = conn.execute("SELECT id FROM debates").fetchone()[0]
    said = sum(1 for _, speaker, _ in survived if speaker == "student")
    rest = _script(tmp_path / "rest.jsonl", KO[said:])
    result = runner.invoke(app, ["debate", "--resume", debate_id, "--script", str(rest), "--json"])
    assert result.exit_code == 0, result.output
    final = _turns(db)
    assert len(final) == 10 and final[: len(survived)] == survived
    assert [text for _, speaker, text in final if speaker == "student"] == KO  # each said once
