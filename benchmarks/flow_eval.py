"""Flow accuracy: does banron find which claim answers which, and which claims were dropped?

    python benchmarks/flow_eval.py            # benchmarks/data/flow (14 hand-written debates)
    python benchmarks/flow_eval.py --grid     # also search the linking thresholds (2-fold)

The debates' claims are given (the set marks them by hand); the student-side linker
(``banron.debate.flow.Linker``, the one the engine uses for students' speeches) fills in what each
claim answers, speech by speech, seeing only earlier speeches. Reported: answer-link precision and
recall (pairs), and dropped-claim precision and recall against the hand labels. With ``--grid`` the
thresholds are chosen on one half of the debates and scored on the other (both ways), so the
figure printed for the grid is out of sample. Prints a table; writes benchmarks/results/flow_eval.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from banron.debate.flow import DENSE_LINK, LEXICAL_LINK, Entry, Flow, Linker, SpeechColumn
from banron.domain import Claim, Side
from banron.kb.embed import get_embedder, query_vectors
from banron.kb.tokenize import make_tokenizer

DATA = Path(__file__).parent / "data" / "flow" / "debates.jsonl"
RESULTS = Path(__file__).parent / "results" / "flow_eval.json"


def run_debate(
    debate: dict, linker: Linker
) -> tuple[set[tuple[str, str]], set[str], set[tuple[str, str]], set[str]]:
    """(predicted links, predicted dropped, gold links, gold dropped) for one debate."""
    flow = Flow([], [])
    gold_links: set[tuple[str, str]] = set()
    for i, sp in enumerate(debate["speeches"]):
        side = Side(sp["side"])
        claims = [Claim(c["id"], c["text"]) for c in sp["claims"]]
        linked = linker.link(claims, side, flow)
        flow.columns.append(SpeechColumn(sp["n"], sp["phase"], side, "student"))
        flow.entries += [Entry(c, side, i, sp["n"], sp["phase"]) for c in linked]
        gold_links |= {(c["id"], a) for c in sp["claims"] for a in c["answers"]}
    pred_links = {(e.id, a) for e in flow.entries for a in e.claim.answers}
    pred_dropped = {e.id for e in flow.dropped()}
    return pred_links, pred_dropped, gold_links, set(debate["dropped"])


def prf(pred: set, gold: set) -> tuple[float, float, float]:
    tp = len(pred & gold)
    p = tp / len(pred) if pred else 0.0
    r = tp / len(gold) if gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def evaluate(debates: list[dict], linker: Linker) -> dict[str, float]:
    pl: set = set()
    pd: set = set()
    gl: set = set()
    gd: set = set()
    for d in debates:
        a, b, c, e = run_debate(d, linker)
        pl |= {(d["id"], *x) for x in a}
        pd |= {(d["id"], x) for x in b}
        gl |= {(d["id"], *x) for x in c}
        gd |= {(d["id"], x) for x in e}
    lp, lr, lf = prf(pl, gl)
    dp, dr, df = prf(pd, gd)
    return {"link_p": lp, "link_r": lr, "link_f1": lf, "dropped_p": dp, "dropped_r": dr, "dropped_f1": df}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--grid", action="store_true", help="choose thresholds 2-fold and report out of sample")
    args = ap.parse_args()
    debates = [
        json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    embedder = get_embedder()
    tokenizer = make_tokenizer("mecab")
    vectors: dict[str, np.ndarray] = {}

    def embed(texts: Sequence[str]) -> Any:  # memoised across grid points
        missing = [t for t in dict.fromkeys(texts) if t not in vectors]
        vectors.update(zip(missing, query_vectors(embedder, missing), strict=True))
        return np.stack([vectors[t] for t in texts])

    started = time.perf_counter()
    rows: dict[str, dict[str, float]] = {}
    default = Linker(tokenizer, embed)
    for lang in ("ko", "en", "all"):
        subset = [d for d in debates if lang == "all" or d["lang"] == lang]
        rows[f"default/{lang}"] = evaluate(subset, default)
    grid_choice: list[dict[str, float]] = []
    if args.grid:
        folds = [debates[0::2], debates[1::2]]
        cv_pred: dict[str, float] = {}
        out_rows = []
        for k in (0, 1):
            train, test = folds[k], folds[1 - k]
            best = None
            for dense in (0.76, 0.78, 0.8, 0.82, 0.84, 0.86, 0.88, 1.1):
                for lexical in (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 1.1):
                    for max_answers in (1, 2):
                        lk = Linker(tokenizer, embed, dense, lexical, max_answers)
                        score = evaluate(train, lk)["dropped_f1"]
                        if best is None or score > best[0]:
                            best = (score, dense, lexical, max_answers)
            assert best is not None
            _, dense, lexical, max_answers = best
            grid_choice.append({"dense": dense, "lexical": lexical, "max_answers": max_answers})
            out_rows.append(evaluate(test, Linker(tokenizer, embed, dense, lexical, max_answers)))
        for key in out_rows[0]:
            cv_pred[key] = sum(r[key] for r in out_rows) / 2
        rows["grid 2-fold (out of sample)"] = cv_pred
    elapsed = time.perf_counter() - started
    print(f"flow linking on {len(debates)} debates, thresholds dense {DENSE_LINK} / lexical {LEXICAL_LINK}")
    heads = ("link P", "link R", "link F1", "drop P", "drop R", "drop F1")
    print(f"{'setting':32} " + " ".join(f"{h:>7}" for h in heads))
    for name, r in rows.items():
        print(
            f"{name:32} {r['link_p']:7.3f} {r['link_r']:7.3f} {r['link_f1']:7.3f}"
            f" {r['dropped_p']:7.3f} {r['dropped_r']:7.3f} {r['dropped_f1']:7.3f}"
        )
    if grid_choice:
        print("grid choices per fold:", grid_choice)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": {"platform": platform.platform(), "python": platform.python_version()},
                "data": str(args.data),
                "debates": len(debates),
                "seconds": round(elapsed, 1),
                "rows": rows,
                "grid_choice": grid_choice,
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
