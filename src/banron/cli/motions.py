"""``banron motions``: the bundled motions."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from banron import content
from banron.cli.common import console


def motions_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the bundled motions."""
    ms = content.motions()
    if as_json:
        print(json.dumps([m.__dict__ for m in ms], ensure_ascii=False, indent=2))
        return
    table = Table("id", "lang", "motion")
    for m in ms:
        table.add_row(m.id, m.lang, m.text)
    console.print(table)
