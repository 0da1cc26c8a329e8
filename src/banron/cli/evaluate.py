"""``banron eval``: measure retrieval on BEIR datasets and the judge against human labels."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from banron.cli.common import console, err, fail, runtime

app = typer.Typer(
    help="Measure banron: retrieval quality on BEIR datasets; the judge against human labels.",
    no_args_is_help=True,
)


@app.command("retrieval")
def eval_retrieval(
    beir: Annotated[Path, typer.Option(help="BEIR folder: corpus.jsonl[.gz], queries.jsonl, qrels/.")],
    mode: Annotated[str, typer.Option(help="lexical, dense, hybrid, hybrid+stance or all.")] = "all",
    processes: Annotated[int | None, typer.Option(min=1, help="Embedding processes [default: CPUs].")] = None,
    limit_queries: Annotated[int | None, typer.Option(min=1, help="Only the first N queries.")] = None,
    ignore_identical_ids: Annotated[
        bool, typer.Option(help="Drop hits whose id is the query's id (ArguAna), before cutting to k.")
    ] = False,
    chunk_tokens: Annotated[int | None, typer.Option(min=16, help="Chunk limit [embedder's].")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the results here.")] = None,
) -> None:
    """Index a BEIR dataset with banron's own pipeline and report nDCG@10, Recall@10/100, MRR@10."""
    from banron.evaluation import BeirError, evaluate_retrieval, load_beir, render, write_json

    rt = runtime()
    try:
        dataset = load_beir(beir, limit_queries=limit_queries)
        report = evaluate_retrieval(
            dataset,
            modes=[mode],
            settings=rt.settings,
            processes=processes,
            chunk_tokens=chunk_tokens,
            ignore_identical_ids=ignore_identical_ids,
            console=err,
        )
    except BeirError as e:
        raise fail(str(e)) from None
    console.print(render(report))
    for note in report.notes:
        err.print(f"[dim]{escape(note)}[/]")
    if json_out:
        write_json(report, json_out)
        console.print(f"[dim]wrote {json_out}[/]")


@app.command("judge")
def eval_judge(
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the results here.")] = None,
    limit: Annotated[
        int | None, typer.Option(min=10, help="At most N items per IBM test set (seeded sample).")
    ] = None,
    task: Annotated[
        list[str] | None, typer.Option(help="argq, argkp, stance, ko-fallacy (repeatable; default: all).")
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Shared data folder (default: $BANRON_SHARED_DATA or ../shared/data).")
    ] = None,
) -> None:
    """Measure the judge against human labels: ArgQ, ArgKP, claim stance, our Korean fallacy set."""
    from banron.evaluation.judge import TASKS, evaluate_judge, render, shared_data_dir, write_json

    tasks = task or list(TASKS)
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise fail(f"unknown task(s) {', '.join(unknown)}; choose from {', '.join(TASKS)}")
    folder = data or shared_data_dir()
    if not folder.is_dir():
        err.print(
            f"[yellow]shared data not found at {folder}[/] (set BANRON_SHARED_DATA); "
            "skipping the IBM sets, measuring only our own Korean fallacy set"
        )
    rt = runtime()
    report = evaluate_judge(rt, data_dir=folder, tasks=tasks, limit=limit, console=err)
    if report.results:
        console.print(render(report))
    for note in report.notes:
        err.print(f"[dim]{escape(note)}[/]")
    if json_out:
        write_json(report, json_out)
        console.print(f"[dim]wrote {json_out}[/]")
