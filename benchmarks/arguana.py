"""Retrieval quality on ArguAna (BEIR): nDCG@10, Recall@10/100, MRR@10 and queries/s per mode.

    python benchmarks/arguana.py                  # all modes, embedding on every CPU
    python benchmarks/arguana.py --processes 2 --limit-queries 200

Runs exactly what ``banron eval retrieval --beir ../shared/data/arguana/beir_style
--ignore-identical-ids --json benchmarks/results/arguana.json`` runs: the corpus goes through
banron's own ingestion into a cached SQLite index (the first run embeds 8.8k documents, which
takes a while; later runs reuse the index and the embedding cache), then every query is searched
through ``Retriever``. ArguAna's queries are themselves corpus documents, so hits with the query's
id are skipped, as BEIR does. The data is read from ``../shared/data/arguana`` (relative to the
project root); when it is absent the script says so and exits 0.

Published anchors (nDCG@10): BM25 0.397-0.414, multilingual-e5-base 0.442. The local corpus has
~100 more documents than BEIR's, so scores run slightly below published ones.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "arguana" / "beir_style"
RESULTS = Path(__file__).parent / "results" / "arguana.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DATA, help="BEIR-layout ArguAna folder")
    parser.add_argument("--mode", default="all", help="lexical, dense, hybrid or all")
    parser.add_argument("--processes", type=int, default=None, help="embedding processes [CPUs]")
    parser.add_argument("--limit-queries", type=int, default=None)
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write the results")
    args = parser.parse_args()

    if not (args.data / "qrels" / "test.tsv").is_file():
        print(f"skipped: ArguAna not found at {args.data} (see ../shared/data/README.md)")
        return 0

    from banron.evaluation import BeirError, evaluate_retrieval, load_beir, render, write_json

    console = Console()
    try:
        dataset = load_beir(args.data, limit_queries=args.limit_queries, name="arguana")
        report = evaluate_retrieval(
            dataset,
            modes=[args.mode],
            processes=args.processes,
            ignore_identical_ids=True,
            console=Console(stderr=True),
        )
    except BeirError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    console.print(render(report))
    write_json(report, args.json)
    console.print(f"[dim]wrote {args.json}[/]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
