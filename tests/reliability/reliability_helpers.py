"""Shared by the fault tests: a real `banron serve` in a subprocess, students with API tokens, the
SSE stream read event by event, and a switchable OpenAI-compatible fault server on loopback."""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from banron.web.launch import start_serve as start_serve_process

SPEECH = (
    "스마트폰은 수업 시간에 학생들의 집중력을 떨어뜨립니다. 또한 사이버 폭력의 주요 통로가 되고 있습니다."
)
SPEECH_2 = "비상 연락은 학교 전화로 충분합니다. 수업에 필요한 기기는 학교 태블릿으로 대신할 수 있습니다."


def add_student(home: Path, name: str = "minji") -> str:
    """A student account with an API token, written into ``home``'s accounts store."""
    from banron.store.accounts import AccountStore
    from banron.web.passwords import hash_password, new_token, token_hash

    store = AccountStore(home / "accounts.sqlite")
    user = store.add_user(name=name, role="student", password_hash=hash_password("a long password"))
    token = new_token("brn_")
    store.set_api_token(user_id=user.id, token_hash=token_hash(token))
    return token


@dataclass
class Server:
    proc: subprocess.Popen[str]
    url: str
    token: str

    def client(self, timeout: float = 60) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=timeout
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def serve_env(home: Path, **settings: str) -> dict[str, str]:
    env = {**os.environ, "BANRON_HOME": str(home), "BANRON_LLM__BACKEND": "fake"}
    env.update({f"BANRON_{k.upper()}": v for k, v in settings.items()})
    return env


def run_cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "banron.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def start_serve(home: Path, token: str, env: dict[str, str]) -> Server:
    proc, url = start_serve_process(env)
    return Server(proc, url, token)


def new_debate(c: httpx.Client) -> str:
    r = c.post("/api/debates", json={"motion_id": "phone-ban", "format": "free", "side": "pro", "lang": "ko"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def submit(c: httpx.Client, debate_id: str, text: str = SPEECH) -> httpx.Response:
    return c.post(f"/api/debates/{debate_id}/turns", json={"text": text})


def events(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    event = ""
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            yield event, json.loads(line[6:])


def speak(c: httpx.Client, debate_id: str) -> list[tuple[str, Any]]:
    with c.stream("POST", f"/api/debates/{debate_id}/speak") as r:
        assert r.status_code == 200, r.read()
        return list(events(r.iter_lines()))


def stored_turns(db: Path, debate_id: str) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(db)) as con:
        con.row_factory = sqlite3.Row
        rows = con.execute("SELECT * FROM turns WHERE debate_id = ? ORDER BY n", (debate_id,)).fetchall()
    return [dict(r) for r in rows]


def integrity(db: Path) -> str:
    with closing(sqlite3.connect(db)) as con:
        return str(con.execute("PRAGMA integrity_check").fetchone()[0])


def assert_whole(turn: dict[str, Any]) -> None:
    """A stored banron turn is whole: text, and every citation it lists is cited in the text."""
    assert turn["speaker"] == "banron" and turn["text"].strip()
    for c in json.loads(turn["citations"]):
        assert f"[{c['n']}]" in turn["text"]


# -- an OpenAI-compatible server that misbehaves on demand ---------------------------------------
@dataclass
class FaultState:
    mode: str = "ok"  # ok | 500 | stall | cut
    reply: str = "그 주장은 근거가 부족합니다. 학생의 자율성을 과소평가합니다."
    requests: int = 0
    release: threading.Event = field(default_factory=threading.Event)


def _chunk(text: str) -> bytes:
    obj = {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n".encode()


class _Handler(BaseHTTPRequestHandler):
    server: _FaultServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        st = self.server.state
        st.requests += 1
        words = re.findall(r"\S+\s*", st.reply)
        if st.mode == "500":
            body = b'{"error": {"message": "upstream exploded"}}'
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif st.mode == "stall":
            st.release.wait(10)
        elif st.mode == "cut":  # chunked SSE: a few words, then the connection drops
            self.wfile.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            for w in words[:4]:
                data = _chunk(w)
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for w in words:
                self.wfile.write(_chunk(w))
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _FaultServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = FaultState()


@contextmanager
def fault_server() -> Iterator[tuple[str, FaultState]]:
    server = _FaultServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", server.state
    finally:
        server.state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
