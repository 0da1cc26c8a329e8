"""CPU time banron spends per turn outside the model: a student's submit and banron's speech.

    python benchmarks/turn_cpu.py                 # 5 debates x 4 exchanges, Korean and English
    python benchmarks/turn_cpu.py --debates 5 --json benchmarks/results/turn_cpu.json

Free-sparring debates run in this process on a fresh home with the bundled evidence, the fake
model answering at once (``debate.style=llm``, so every speech also goes through the model path:
its sentences are checked and template points fill in). Each ``submit`` (claims extracted and
linked into the flow, the turn committed) and each banron speech (evidence searched, sentences
checked, the turn committed) is measured in process CPU time, which counts every thread of the
process (the e5 encoder's too) and, unlike wall time, barely moves when other jobs share the
machine. The first exchange of each debate is reported apart: its claims meet no earlier claims.

What it leaves out: HTTP and streaming (``benchmarks/load.py`` measures those), and the model.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results" / "turn_cpu.json"

SPEECHES = {
    ("phone-ban", "ko"): [
        "스마트폰은 수업 시간에 학생들의 집중력을 떨어뜨립니다. "
        "또한 사이버 폭력의 주요 통로가 되고 있습니다.",
        "비상 연락은 학교 전화로 충분합니다. 수업에 필요한 기기는 학교 태블릿으로 대신할 수 있습니다.",
        "스마트폰 중독은 청소년의 수면 시간을 줄입니다. "
        "학교가 금지하면 쉬는 시간에 친구와 대화가 늘어납니다.",
        "여러 나라의 학교가 이미 휴대폰을 금지했고 성적이 올랐습니다. "
        "규칙이 분명하면 교사의 지도도 쉬워집니다.",
    ],
    ("ai-homework", "en"): [
        "Generative AI gives every student a patient tutor at home. "
        "It explains a problem as often as needed.",
        "Banning it only drives use underground. Schools should teach students to use it well instead.",
        "Teachers can design homework that asks for reflection, not answers. "
        "AI then becomes a study partner.",
        "Students who learn with AI now will need these skills at work. A ban leaves them unprepared.",
    ],
}
REPLY = {
    "ko": "그 주장은 학생의 자율성을 지나치게 과소평가합니다. 금지보다 올바른 사용 교육이 더 효과적입니다.",
    "en": "That argument underestimates what students can learn to manage. Teaching good use works better.",
}


def run(debates: int, exchanges: int) -> dict[str, Any]:
    from banron import content
    from banron.debate.engine import DebateEngine
    from banron.debate.formats import get_format
    from banron.domain import Side
    from banron.runtime import Runtime
    from banron.store import open_store

    store = None
    exchanges = min(exchanges, min(len(s) for s in SPEECHES.values()))
    samples: dict[str, list[float]] = {"first_submit": [], "submit": [], "first_speech": [], "speech": []}
    for (motion_id, lang), speeches in SPEECHES.items():
        motion = content.find_motion(motion_id)
        assert motion is not None
        os.environ["BANRON_LLM__FAKE__REPLY"] = REPLY[lang]
        rt = Runtime()  # reads the settings, this language's reply with them
        rt.ensure_bundled()
        store = store or open_store(rt.settings)
        for _ in range(debates):
            # Each debate starts with nothing remembered: another class's students write other
            # sentences (the embedder's memory of recent queries serves one debate's flow).
            recent = getattr(rt.embedder, "_recent", None)
            if recent is not None:
                recent.clear()
            engine = DebateEngine.create(
                rt,
                fmt=get_format("free"),
                motion=motion,
                student_side=Side.PRO,
                lang=lang,  # type: ignore[arg-type]
                kbs=[content.BUNDLED_KB],
                store=store,
            )
            for i in range(exchanges):
                text = speeches[i % len(speeches)]
                t = time.process_time()
                engine.submit(text)
                samples["first_submit" if i == 0 else "submit"].append((time.process_time() - t) * 1000)
                t = time.process_time()
                for _ in engine.run_banron():
                    pass
                samples["first_speech" if i == 0 else "speech"].append((time.process_time() - t) * 1000)
    if store is not None:
        store.close()
    return {
        k: {"n": len(v), "median": statistics.median(v), "p90": sorted(v)[int(0.9 * (len(v) - 1))]}
        for k, v in samples.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--debates", type=int, default=5, help="debates per language")
    ap.add_argument("--exchanges", type=int, default=4, help="speech pairs per debate (at most 4)")
    ap.add_argument("--json", type=Path, default=RESULTS)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="banron-turn-cpu-") as home:
        os.environ.update(
            {
                "BANRON_HOME": home,
                "BANRON_LLM__BACKEND": "fake",
                "BANRON_LLM__FAKE__TOKENS_PER_S": "0",
                "BANRON_DEBATE__STYLE": "llm",
            }
        )
        results = run(args.debates, args.exchanges)
    table = Table(title="CPU per turn outside the model (ms, all threads of the process)")
    for col in ("turn", "n", "median", "p90"):
        table.add_column(col, justify="left" if col == "turn" else "right")
    for name, r in results.items():
        table.add_row(name.replace("_", " "), str(r["n"]), f"{r['median']:.1f}", f"{r['p90']:.1f}")
    Console().print(table)
    out = {
        "benchmark": "turn_cpu",
        "debates_per_language": args.debates,
        "exchanges": args.exchanges,
        "results": results,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "system": platform.system()},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
