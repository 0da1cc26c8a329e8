"""``banron config``: the effective settings."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape

from banron.cli.common import console, runtime

app = typer.Typer(help="Settings.", no_args_is_help=True)


@app.command("show")
def config_show(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Print the effective settings (environment, config.toml, defaults) with secrets masked."""
    rt = runtime()
    data = rt.settings.masked()
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    found = "found" if rt.settings.config_file.exists() else "absent"
    console.print(f"[dim]config file: {rt.settings.config_file} ({found})[/]")

    def walk(prefix: str, obj: Any) -> None:
        for k, v in obj.items():
            if isinstance(v, dict):
                walk(f"{prefix}{k}.", v)
            else:
                console.print(f"{prefix}{k} = {escape(json.dumps(v, ensure_ascii=False))}")

    walk("", data)
