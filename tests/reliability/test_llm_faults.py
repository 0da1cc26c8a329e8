"""The model failing mid-debate, through a real `banron serve` whose `openai` backend points at a
misbehaving OpenAI-compatible server on loopback: HTTP 500, a stall past the timeout, and a
connection cut mid-stream.

banron's rebuttal is evidence-first: when the model fails, the speech is finished from the
retrieved evidence (templates) rather than lost. What must hold: the stream ends cleanly, the
student is told in the turn's warnings that the model failed, what is stored is exactly what was
shown (one whole turn, never a fragment), and once the model is back the next turn uses it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability_helpers import (
    SPEECH_2,
    FaultState,
    Server,
    add_student,
    assert_whole,
    fault_server,
    integrity,
    new_debate,
    serve_env,
    speak,
    start_serve,
    stored_turns,
    submit,
)


@pytest.fixture(scope="module")
def llm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, FaultState, Path]]:
    home = tmp_path_factory.mktemp("llm_faults_home")
    token = add_student(home)
    with fault_server() as (url, state):
        env = serve_env(
            home,
            llm__backend="openai",
            llm__openai__base_url=url,
            llm__openai__api_key="sk-test-0123456789",
            llm__openai__timeout="1.0",
            llm__openai__max_retries="1",
            llm__openai__backoff="0.01",
            debate__style="llm",
        )
        server = start_serve(home, token, env)
        try:
            yield server, state, home
        finally:
            server.stop()


@pytest.mark.parametrize("mode", ["500", "stall", "cut"])
def test_model_failure_is_reported_and_nothing_half_saved(
    llm_server: tuple[Server, FaultState, Path], mode: str
) -> None:
    server, state, home = llm_server
    with server.client() as c:
        debate = new_debate(c)
        assert submit(c, debate).status_code == 201
        state.mode, before = mode, state.requests
        evs = speak(c, debate)
        assert state.requests > before  # the model was really asked
        kinds = [e for e, _ in evs]
        assert kinds[-1] == "done" and "error" not in kinds, evs
        turn = next(d for e, d in evs if e == "turn")
        assert any("모델이 응답하지 못했습니다" in w for w in turn["warnings"]), turn["warnings"]
        shown = "".join(d["text"] for e, d in evs if e == "piece")
        rows = stored_turns(home / "debates.sqlite", debate)
        assert [r["n"] for r in rows] == [1, 2]  # one whole banron turn, no fragment
        assert_whole(rows[1])
        assert rows[1]["text"] == turn["text"] == shown.strip()  # stored == what the student saw
        assert json.loads(rows[1]["warnings"]) == turn["warnings"]

        # The model is back: the next exchange uses it and carries no failure warning.
        state.mode = "ok"
        assert submit(c, debate, SPEECH_2).status_code == 201
        evs = speak(c, debate)
        assert [e for e, _ in evs][-1] == "done" and "error" not in [e for e, _ in evs]
        turn = next(d for e, d in evs if e == "turn")
        assert turn["turn"] == 4 and not any("모델" in w for w in turn["warnings"])
        assert [r["n"] for r in stored_turns(home / "debates.sqlite", debate)] == [1, 2, 3, 4]
    assert integrity(home / "debates.sqlite") == "ok"
