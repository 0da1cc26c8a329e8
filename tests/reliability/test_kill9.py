"""`kill -9` of `banron serve` while banron's speech is streaming: after a restart every completed
turn is intact and the debate resumes (the next speak says the interrupted speech again)."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

from reliability_helpers import (
    SPEECH_2,
    add_student,
    assert_whole,
    events,
    integrity,
    new_debate,
    serve_env,
    speak,
    start_serve,
    stored_turns,
    submit,
)

# Twenty words at 20 words/s: a speech takes about a second, long enough to kill it midway.
REPLY = " ".join(["그 주장은 학생의 자율성을 지나치게 과소평가합니다."] * 4)


def test_kill_9_mid_speech_loses_no_completed_turn(tmp_path: Path) -> None:
    home = tmp_path / "home"
    token = add_student(home)
    env = serve_env(home, llm__fake__reply=REPLY, llm__fake__tokens_per_s="20", debate__style="llm")
    server = start_serve(home, token, env)
    try:
        with server.client() as c:
            debate = new_debate(c)
            assert submit(c, debate).status_code == 201
            assert [e for e, _ in speak(c, debate)][-1] == "done"
            assert submit(c, debate, SPEECH_2).status_code == 201
            before = c.get(f"/api/debates/{debate}").json()["turns"]
            assert [t["turn"] for t in before] == [1, 2, 3]

            # Stream the 4th turn; kill the server as soon as its first words arrive.
            seen: list[tuple[str, Any]] = []
            first_words = threading.Event()

            def follow() -> None:
                try:
                    with c.stream("POST", f"/api/debates/{debate}/speak") as r:
                        for ev in events(r.iter_lines()):
                            seen.append(ev)
                            if ev[0] == "piece":
                                first_words.set()
                except Exception:  # the connection dies with the server
                    pass
                first_words.set()

            t = threading.Thread(target=follow)
            t.start()
            assert first_words.wait(30)
            os.kill(server.proc.pid, signal.SIGKILL)
            server.proc.wait(10)
            t.join(10)
            assert any(e == "piece" for e, _ in seen) and not any(e == "turn" for e, _ in seen)
    finally:
        server.stop()

    db = home / "debates.sqlite"
    assert integrity(db) == "ok"
    assert [r["n"] for r in stored_turns(db, debate)] == [1, 2, 3]  # nothing of the killed speech

    server = start_serve(home, token, env)
    try:
        with server.client() as c:
            state = c.get(f"/api/debates/{debate}").json()
            assert state["turns"] == before  # every completed turn intact, byte for byte
            assert state["slot"]["speaker"] == "banron"
            evs = speak(c, debate)
            assert [e for e, _ in evs][-1] == "done" and "error" not in [e for e, _ in evs]
            assert next(d for e, d in evs if e == "turn")["turn"] == 4
            assert submit(c, debate).status_code == 201  # and the debate goes on
    finally:
        server.stop()
    rows = stored_turns(db, debate)
    assert [r["n"] for r in rows] == [1, 2, 3, 4, 5]
    assert_whole(rows[3])
    assert integrity(db) == "ok"
