"""Citation precision on banron's own kind of sentence: the hand-labelled set in data/citations.

    python benchmarks/citation_precision.py              # lexical + dense, as the opponent checks
    python benchmarks/citation_precision.py --no-dense   # lexical signal and gates only (no embedder)

Each line of ``benchmarks/data/citations/sentences.jsonl`` is a sentence citing ``[n]``, the
passage it cites and a hand label (``supported``: does the passage say what the sentence says?).
The sentences are banron's template output over the bundled motions and the ko-counter set, and
model-style sentences written against the same passages: right paraphrases, and the errors a
model makes (a wrong number, a reversed finding, an absolute the passage lacks, a claim the
passage does not make, the wrong passage), in Korean, English and across the two.

Batch 1 (with banron's template output) was written first; three of its false passes led to
fixes in the checker (a percentage compared with a counted unit, "most"/"대부분" as an overclaim,
up/down direction words), so its figures are optimistic. Batch 2 was written after those fixes
and before the checker was run on it: its figures are the blind ones.

The checker runs as ``_Writer.say`` runs it (``check_sentence`` with the e5 query embedder and a
whole-passage vector). Precision = share of the sentences it passes that are labelled supported;
recall = share of the supported sentences it passes. The old hand-set rule (lexical >= 0.5 over
the whole passage or passage cosine >= 0.86) is reported alongside. For sentences the checker
rejects, the table also counts what banron does next: quote the passage instead
(``rewrite_from_passage``) or drop the sentence. Writes benchmarks/results/citation_precision.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).parent / "data" / "citations" / "sentences.jsonl"
RESULTS = Path(__file__).parent / "results" / "citation_precision.json"


def load(path: Path = DATA) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate(
    items: list[dict[str, Any]], *, dense: bool = True, old_rule: bool = True
) -> list[dict[str, Any]]:
    """One row per item: the label, the checker's verdict, the old rule's, what replaces a failure."""
    from banron.domain import Passage
    from banron.judge.citations import (
        check_sentence,
        frame_tokens,
        rewrite_from_passage,
        strip_citations,
    )
    from banron.kb.embed import get_embedder
    from banron.kb.tokenize import make_tokenizer

    tok = make_tokenizer("mecab")
    emb = get_embedder() if dense or old_rule else None
    vectors: dict[str, np.ndarray] = {}

    def passage_vector(p: Passage) -> np.ndarray:
        assert emb is not None
        if p.id not in vectors:
            vectors[p.id] = emb.passages([p.text])[0]
        return vectors[p.id]

    rows = []
    for item in items:
        p = Passage(**item["passage"])
        passages = {item["n"]: p}
        checks = check_sentence(
            item["sentence"],
            passages,
            tok,
            embed_query=emb.query if dense and emb is not None else None,
            passage_vector=passage_vector if dense else None,
        )
        passed = bool(checks) and all(c.supported for c in checks)
        row = {
            "id": item["id"],
            "lang": item["lang"],
            "kind": item["kind"],
            "batch": item.get("batch", 1),
            "supported": item["supported"],
            "passed": passed,
            "lexical": round(checks[0].lexical, 3),
            "dense": None if checks[0].dense is None else round(checks[0].dense, 3),
            "gates": [checks[0].numbers_ok, checks[0].polarity_ok, checks[0].absolutes_ok],
        }
        if old_rule and emb is not None:
            claim = strip_citations(item["sentence"])
            ctoks = set(tok.tokens(claim)) - frame_tokens(tok)
            ptoks = set(tok.tokens(f"{p.title} {p.source} {p.text}"))
            old_lex = len(ctoks & ptoks) / max(1, len(ctoks))
            old_dense = float(emb.query(claim) @ passage_vector(p)) if old_lex < 0.5 else 1.0
            row["old_passed"] = old_lex >= 0.5 or old_dense >= 0.86
        if not passed:
            row["rewritten"] = rewrite_from_passage(item["sentence"], item["n"], p, tok, lang=item["lang"])
        rows.append(row)
    return rows


def summarize(rows: list[dict[str, Any]], key: str = "passed") -> dict[str, Any]:
    passed = [r for r in rows if r[key]]
    supported = [r for r in rows if r["supported"]]
    tp = sum(1 for r in passed if r["supported"])
    return {
        "n": len(rows),
        "supported": len(supported),
        "passed": len(passed),
        "precision": round(tp / len(passed), 3) if passed else None,
        "recall": round(tp / len(supported), 3) if supported else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--no-dense", action="store_true", help="lexical support and gates only")
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args()

    rows = evaluate(load(args.data), dense=not args.no_dense, old_rule=not args.no_dense)
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups["all"].append(r)
        groups[f"lang={r['lang']}"].append(r)
        groups[f"kind={r['kind']}"].append(r)
        groups[f"batch={r['batch']}"].append(r)
    report: dict[str, Any] = {"data": str(args.data), "dense": not args.no_dense, "groups": {}}
    head = ("n", "labelled ok", "passed", "precision", "recall", "old P", "old R")
    print(f"{'group':<22} " + " ".join(f"{h:>{max(6, len(h))}}" for h in head))
    for name in sorted(groups, key=lambda g: (g != "all", g)):
        s = summarize(groups[name])
        old = summarize(groups[name], "old_passed") if "old_passed" in rows[0] else {}
        report["groups"][name] = {**s, "old_rule": old}

        def fmt(v: float | None) -> str:
            return "-" if v is None else f"{v:.3f}"

        cells = (
            s["n"],
            s["supported"],
            s["passed"],
            fmt(s["precision"]),
            fmt(s["recall"]),
            fmt(old.get("precision")),
            fmt(old.get("recall")),
        )
        print(f"{name:<22} " + " ".join(f"{c!s:>{max(6, len(h))}}" for c, h in zip(cells, head, strict=True)))
    failed = [r for r in rows if not r["passed"]]
    quoted = sum(1 for r in failed if r.get("rewritten"))
    removed = len(failed) - quoted
    print(f"rejected: {len(failed)}; replaced by a quote of the passage: {quoted}; removed: {removed}")
    false_passes = [r["id"] for r in rows if r["passed"] and not r["supported"]]
    print(f"passed but labelled unsupported: {', '.join(false_passes) or 'none'}")
    report.update(rejected=len(failed), rewritten=quoted, false_passes=false_passes, rows=rows)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
