"""Time to banron's first streamed words, as a student experiences it.

Runs `banron spar --script` in a subprocess (so Python start-up, imports, evidence loading and
model loading all count) and reads its output as it streams: "first text" is when the rebuttal's
first words appear, "done" when the whole exchange has been printed. Each case runs on a fresh
BANRON_HOME ("cold": bundled evidence loaded, and for English the chat model assembled and
loaded) and again on the same home ("warm"). English rebuttals use the embedded model for one
sentence per claim; Korean ones are built from templates and do not load it.

    python benchmarks/first_token.py [--repeat 3] [--json benchmarks/results/first_token.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

CASES = {
    "ko": (
        "phone-ban",
        "스마트폰은 수업 시간에 학생들의 집중력을 떨어뜨립니다. "
        "또한 사이버 폭력의 주요 통로가 되고 있습니다.",
    ),
    "en": (
        "ai-homework",
        "Generative AI gives every student a patient tutor at home. Banning it just drives use underground.",
    ),
}


def run_once(home: Path, motion: str, speech: str) -> tuple[float, float]:
    script = home.parent / f"{home.name}-speech.jsonl"
    script.write_text(json.dumps({"text": speech}, ensure_ascii=False), encoding="utf-8")
    banron = shutil.which("banron") or str(Path(sys.executable).with_name("banron"))
    env = {**os.environ, "BANRON_HOME": str(home), "COLUMNS": "200"}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [banron, "spar", "--motion", motion, "--side", "pro", "--script", str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert proc.stdout is not None
    first = None
    seen = b""
    while chunk := proc.stdout.read1(4096):
        seen += chunk
        if first is None and b"banron (" in seen:
            first = time.perf_counter() - start
    proc.wait()
    total = time.perf_counter() - start
    if proc.returncode != 0 or first is None:
        raise SystemExit(f"banron spar failed ({proc.returncode}): {seen.decode(errors='replace')[-500:]}")
    return first, total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3, help="warm runs per case")
    ap.add_argument("--json", default="benchmarks/results/first_token.json")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for lang, (motion, speech) in CASES.items():
            home = Path(tmp) / f"home-{lang}"
            cold_first, cold_total = run_once(home, motion, speech)
            warm = [run_once(home, motion, speech) for _ in range(args.repeat)]
            rows.append(
                {
                    "lang": lang,
                    "cold_first_s": round(cold_first, 2),
                    "cold_done_s": round(cold_total, 2),
                    "warm_first_s_median": round(statistics.median(f for f, _ in warm), 2),
                    "warm_done_s_median": round(statistics.median(t for _, t in warm), 2),
                    "warm_runs": args.repeat,
                }
            )
    table = Table(
        "speech", "cold: first text", "cold: done", "warm: first text (median)", "warm: done (median)"
    )
    for r in rows:
        table.add_row(
            r["lang"],
            f"{r['cold_first_s']} s",
            f"{r['cold_done_s']} s",
            f"{r['warm_first_s_median']} s",
            f"{r['warm_done_s_median']} s",
        )
    Console().print(table)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "first_token", "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
