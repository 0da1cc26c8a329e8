"""``banron kb``: add, list and remove documents of knowledge bases; search them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from banron import content
from banron.cli.common import console, err, fail, progress, runtime
from banron.kb.ingest import IngestReport
from banron.runtime import Runtime

app = typer.Typer(help="Knowledge bases: add, list and remove documents; search.", no_args_is_help=True)


def _ingest_with_progress(rt: Runtime, kb: str, paths: list[Path], processes: int) -> IngestReport:
    with progress() as bar:
        task = bar.add_task("embedding", total=None)
        return rt.ingestor(processes=processes).add_paths(
            kb,
            paths,
            progress=lambda n: bar.advance(task, n),
            on_total=lambda n: bar.update(task, total=n),
        )


@app.command("add")
def kb_add(
    paths: Annotated[
        list[Path], typer.Argument(help="Files or folders (.pdf, .docx, .html, .htm, .txt, .md, .jsonl).")
    ],
    kb: Annotated[str, typer.Option("--kb", help="Knowledge base name.")] = "default",
    processes: Annotated[int, typer.Option(help="Embedding processes (1 per core helps).")] = 1,
) -> None:
    """Add documents to a knowledge base; unchanged files are skipped, changed ones replaced.

    Documents a re-added file no longer yields are removed; a moved or renamed file keeps its
    documents. A file that cannot be read is reported and the rest still go in."""
    rt = runtime()
    report = _ingest_with_progress(rt, kb, paths, processes)
    extra = f", {report.documents_removed} removed" if report.documents_removed else ""
    extra += f", {report.files_moved} files moved" if report.files_moved else ""
    console.print(
        f"[bold]{kb}[/]: {report.documents_added} added, {report.documents_updated} updated, "
        f"{report.documents_unchanged} unchanged{extra}, {report.passages_written} passages written"
    )
    for path, message in report.errors:
        shown = message if message.startswith(path) else f"{path}: {message}"  # loader errors name the file
        err.print(f"[yellow]skipped[/] {escape(shown)}")
    if report.errors and not (
        report.documents_added or report.documents_updated or report.documents_unchanged
    ):
        raise typer.Exit(1)


@app.command("list")
def kb_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List knowledge bases with document and passage counts."""
    rt = runtime()
    rt.ensure_bundled()
    infos = rt.index.list_kbs()
    if as_json:
        print(json.dumps([i.__dict__ for i in infos], ensure_ascii=False))
        return
    table = Table("kb", "documents", "passages", "languages", "stances")
    for i in infos:
        table.add_row(
            i.name,
            str(i.documents),
            str(i.passages),
            ", ".join(f"{k} {v}" for k, v in sorted(i.langs.items())),
            ", ".join(f"{k} {v}" for k, v in sorted(i.stances.items())),
        )
    console.print(table)


@app.command("docs")
def kb_docs(
    kb: Annotated[str, typer.Option("--kb", help="Knowledge base name.")] = "default",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the documents of a knowledge base with their source and passage count."""
    rt = runtime()
    if not rt.index.has_kb(kb):
        raise fail(f"no knowledge base named {kb!r}; see `banron kb list`")
    docs = rt.index.list_documents(kb)
    if as_json:
        print(json.dumps([d.__dict__ for d in docs], ensure_ascii=False))
        return
    table = Table("document", "passages", "source", "added")
    for d in docs:
        table.add_row(escape(d.doc_id), str(d.passages), escape(d.source), d.added_at)
    console.print(table)


@app.command("rm")
def kb_rm(
    target: Annotated[str, typer.Argument(help="A document id (see `kb docs`) or a file that was added.")],
    kb: Annotated[str, typer.Option("--kb", help="Knowledge base name.")] = "default",
) -> None:
    """Remove a document, or every document added from a file, with their passages."""
    rt = runtime()
    if not rt.index.has_kb(kb):
        raise fail(f"no knowledge base named {kb!r}; see `banron kb list`")
    keys = dict.fromkeys([target, str(Path(target).expanduser().resolve())])
    removed = sorted({doc for key in keys for doc in rt.index.remove_documents(kb, key)})
    if not removed:
        raise fail(f"nothing in {kb!r} matches {target!r}; see `banron kb docs --kb {kb}`")
    console.print(f"[bold]{kb}[/]: removed {len(removed)} document{'s' if len(removed) != 1 else ''}")
    for doc_id in removed:
        console.print(f"  {escape(doc_id)}")


@app.command("drop")
def kb_drop(
    name: Annotated[str, typer.Argument(help="Knowledge base to delete with all its documents.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a whole knowledge base."""
    rt = runtime()
    if not rt.index.has_kb(name):
        raise fail(f"no knowledge base named {name!r}; see `banron kb list`")
    if not yes and not typer.confirm(f"Delete knowledge base {name!r} and all its documents?"):
        raise typer.Exit(1)
    rt.index.delete_kb(name)
    console.print(f"deleted knowledge base [bold]{escape(name)}[/]")


@app.command("search")
def kb_search(
    query: Annotated[str, typer.Argument(help="What to look for, in Korean or English.")],
    kb: Annotated[str, typer.Option("--kb", help="Knowledge base name.")] = content.BUNDLED_KB,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=1000)] = 10,
    mode: Annotated[str, typer.Option(help="hybrid, lexical or dense.")] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search a knowledge base (hybrid lexical + dense by default)."""
    rt = runtime()
    if kb == content.BUNDLED_KB:
        rt.ensure_bundled()
    if not rt.index.has_kb(kb):
        raise fail(f"no knowledge base named {kb!r}; see `banron kb list`")
    if mode not in ("hybrid", "lexical", "dense"):
        raise fail("--mode must be hybrid, lexical or dense")
    hits = rt.retriever.search(query, [kb], top_k=top_k, mode=mode)  # type: ignore[arg-type]
    if as_json:
        out = [
            {
                "id": h.passage.id,
                "score": round(h.score, 6),
                "title": h.passage.title,
                "text": h.passage.text,
                "stance": h.passage.stance,
                "lang": h.passage.lang,
            }
            for h in hits
        ]
        print(json.dumps(out, ensure_ascii=False))
        return
    for i, h in enumerate(hits, 1):
        p = h.passage
        console.print(
            f"[bold]{i}. {escape(p.title or p.id)}[/] [dim]{p.id} · {p.stance} · {p.lang} · {h.score:.4f}[/]"
        )
        console.print(f"   {escape(' '.join(p.text.split())[:300])}")
