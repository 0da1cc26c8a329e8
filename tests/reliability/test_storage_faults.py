"""A full disk and a read-only BANRON_HOME, on real file systems: BANRON_HOME on a small tmpfs
(filled up while `banron serve` runs) and a read-only bind mount of it (at start-up).

Needs root with mount rights (it skips otherwise): as root, chmod does not stop writes, so a
read-only *mount* is the honest test. What must hold: a clear error (HTTP 503 with a reason, an SSE
`error` event, a one-line CLI error), nothing half-saved, PRAGMA integrity_check ok, earlier turns
intact, and the same request succeeding once space is back."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability_helpers import (
    SPEECH_2,
    add_student,
    assert_whole,
    events,
    integrity,
    new_debate,
    run_cli,
    serve_env,
    speak,
    start_serve,
    stored_turns,
    submit,
)

REPLY = " ".join(["그 주장은 학생의 자율성을 지나치게 과소평가합니다."] * 4)


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "fs"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    try:
        _mount("-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mnt))
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        pytest.skip(f"cannot mount a tmpfs here: {e}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path: Path) -> None:
    """Write until the file system is full (ENOSPC)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 20, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as e:
                assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)


def test_disk_full_then_read_only_home(small_fs: Path, tmp_path: Path) -> None:
    home = small_fs / "home"
    token = add_student(home)
    # A paced fake model (about a second per speech) leaves time to fill the disk mid-speech.
    env = serve_env(home, llm__fake__reply=REPLY, llm__fake__tokens_per_s="20", debate__style="llm")
    filler = small_fs / "filler"
    db = home / "debates.sqlite"
    server = start_serve(home, token, env)
    try:
        with server.client() as c:
            debate = new_debate(c)
            assert submit(c, debate).status_code == 201
            assert [e for e, _ in speak(c, debate)][-1] == "done"
            kept = stored_turns(db, debate)
            assert [r["n"] for r in kept] == [1, 2]

            # Disk full during the student's turn: a clear 503, nothing stored.
            fill(filler)
            r = submit(c, debate, SPEECH_2 * 20)
            assert r.status_code == 503, r.text
            assert r.json()["code"] == "storage_unavailable" and "full" in r.json()["detail"], r.text
            filler.unlink()
            assert stored_turns(db, debate) == kept
            assert submit(c, debate, SPEECH_2 * 20).status_code == 201  # retried: saved

            # Disk full during banron's speech (after the request was accepted): an error event,
            # no turn; the retry completes it.
            evs = []
            with c.stream("POST", f"/api/debates/{debate}/speak") as resp:
                for ev in events(resp.iter_lines()):
                    evs.append(ev)
                    if ev[0] == "piece" and not filler.exists():
                        fill(filler)
            kinds = [e for e, _ in evs]
            assert "error" in kinds and "turn" not in kinds and kinds[-1] == "done"
            assert "full" in next(d for e, d in evs if e == "error")["message"]
            filler.unlink()
            assert [r["n"] for r in stored_turns(db, debate)] == [1, 2, 3]
            evs = speak(c, debate)
            assert [e for e, _ in evs][-1] == "done" and "error" not in [e for e, _ in evs]
    finally:
        server.stop()
    rows = stored_turns(db, debate)
    assert [r["n"] for r in rows] == [1, 2, 3, 4] and rows[:2] == kept
    assert_whole(rows[3])
    assert integrity(db) == "ok"

    # The same home, read-only (a bind mount): start-up fails with one clear line.
    ro = tmp_path / "ro"
    ro.mkdir()
    _mount("--bind", str(home), str(ro))
    try:
        _mount("-o", "remount,bind,ro", str(ro))
        for args in (["serve", "--port", "0"], ["debates", "list"]):
            out = run_cli(serve_env(ro), *args)
            assert out.returncode == 1, out
            lines = [line for line in out.stderr.splitlines() if line.strip()]
            assert len(lines) == 1 and lines[0].startswith("error: cannot use banron's data"), out.stderr
            assert "Traceback" not in out.stderr
    finally:
        subprocess.run(["umount", "-l", str(ro)], check=False)
    assert integrity(db) == "ok"
    assert stored_turns(db, debate) == rows
