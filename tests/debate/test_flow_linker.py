"""The flow's linker: which earlier claims of the other side a new claim answers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from banron.debate.flow import Flow, Linker
from banron.domain import Claim, Side, Turn
from banron.kb.embed import get_embedder, query_vectors
from banron.kb.tokenize import make_tokenizer


def _banron_case() -> Flow:
    turn = Turn(
        n=1,
        speaker="banron",
        side=Side.CON,
        lang="ko",
        text="",
        claims=[
            Claim("c1", "교복은 학생들 사이의 빈부 격차를 가려 준다."),
            Claim("c2", "교복은 등하굣길에서 외부인과 학생을 구별하게 해 준다."),
        ],
    )
    return Flow.from_turns([turn])


def test_a_speech_is_embedded_in_one_call_and_each_text_once() -> None:
    embedder = get_embedder()
    calls: list[list[str]] = []

    def embed(texts: Sequence[str]) -> np.ndarray:
        calls.append(list(texts))
        return query_vectors(embedder, texts)

    linker = Linker(make_tokenizer("mecab"), embed)
    flow = _banron_case()
    claims = [
        Claim("s1", "비싼 브랜드 패딩을 교복 위에 입으니 빈부 격차는 그대로 드러난다."),
        Claim("s2", "학교 출입 관리는 옷이 아니라 출입증으로 하는 것이다."),
    ]
    linked = linker.link(claims, Side.PRO, flow)
    assert len(calls) == 1 and sorted(calls[0]) == sorted(
        [c.text for c in claims] + [e.claim.text for e in flow.entries]
    )
    assert linked[0].answers[0] == "c1" and linked[1].answers[0] == "c2"
    linker.link(claims, Side.PRO, flow)  # the same claims again: nothing new to embed
    assert len(calls) == 1


def test_no_candidates_means_no_embedding() -> None:
    calls: list[int] = []

    def embed(texts: Sequence[str]) -> np.ndarray:
        calls.append(len(texts))
        return np.zeros((len(texts), 384), dtype=np.float32)

    linked = Linker(make_tokenizer("mecab"), embed).link([Claim("s1", "첫 주장")], Side.PRO, Flow([], []))
    assert calls == [] and linked == [Claim("s1", "첫 주장")]
