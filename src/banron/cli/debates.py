"""``banron debates``: the stored debates, listed, shown and exported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markdown import Markdown
from rich.table import Table

from banron.cli.common import console, err, fail, runtime
from banron.debate.transcript import to_json, to_markdown
from banron.store import DebateStoreProtocol, open_store
from banron.util import atomic_write_text

app = typer.Typer(help="Your stored debates: list, show, export.", no_args_is_help=True)


def _debate_store() -> DebateStoreProtocol:
    return open_store(runtime().settings)


@app.command("list")
def debates_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Stored debates, newest first."""
    rows = _debate_store().list_debates()
    if as_json:
        out = [
            {
                "id": r.id,
                "motion": r.motion_text,
                "student_side": r.student_side.value,
                "format": r.format,
                "lang": r.lang,
                "status": r.status,
                "exhibition": r.exhibition,
                "created_at": r.created_at,
                "turns": n,
            }
            for r, n in rows
        ]
        print(json.dumps(out, ensure_ascii=False))
        return
    table = Table("id", "created", "format", "motion", "you", "turns", "status")
    for r, n in rows:
        you = "exhibition" if r.exhibition else r.student_side.value
        table.add_row(r.id, r.created_at, r.format, r.motion_text, you, str(n), r.status)
    console.print(table)


def _load_debate(debate_id: str) -> tuple[DebateStoreProtocol, Any]:
    store = _debate_store()
    record = store.get_debate(debate_id)
    if record is None:
        raise fail(f"no debate {debate_id!r}; see `banron debates list`")
    return store, record


@app.command("show")
def debates_show(debate_id: Annotated[str, typer.Argument(help="Debate id.")]) -> None:
    """Print a stored debate with its citations."""
    store, record = _load_debate(debate_id)
    console.print(Markdown(to_markdown(record, record.motion_text, store.turns(record.id))))


@app.command("export")
def debates_export(
    debate_id: Annotated[str, typer.Argument(help="Debate id.")],
    fmt: Annotated[str, typer.Option("--format", help="md or json.")] = "md",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Export a stored debate as Markdown or JSON."""
    store, record = _load_debate(debate_id)
    turns = store.turns(record.id)
    if fmt == "md":
        text = to_markdown(record, record.motion_text, turns)
    elif fmt == "json":
        text = json.dumps(to_json(record, turns), ensure_ascii=False, indent=2)
    else:
        raise fail("--format must be md or json")
    if output is None:
        print(text)
    else:
        atomic_write_text(output, text)
        err.print(f"wrote {output}")
