"""The ``banron`` command: thin Typer commands that wire settings to the core and render results.

This module builds the command tree; each area's commands live in their own module (``kb``,
``config``, ``debate``, ``debates``, ``evaluate``, ``judge``, ``web``, ``motions``) and share
``common`` (consoles, errors, the runtime). Registration order is the order ``--help`` lists them in.
"""

from __future__ import annotations

from typing import Annotated

import typer

from banron import __version__
from banron.cli import config, debate, debates, evaluate, judge, kb, motions, web
from banron.cli.common import console

__all__ = ["app", "main"]

app = typer.Typer(
    help="반론 banron — a debate sparring partner that rebuts with cited evidence.", no_args_is_help=True
)

app.command("motions")(motions.motions_cmd)
app.command("spar")(debate.spar)
app.command("debate")(debate.debate)
app.command("formats")(debate.formats_cmd)
app.command("serve")(web.serve)
app.command("judge")(judge.judge)

app.add_typer(kb.app, name="kb")
app.add_typer(config.app, name="config")
app.add_typer(debates.app, name="debates")
app.add_typer(evaluate.app, name="eval")
app.add_typer(web.users_app, name="users")


@app.callback(invoke_without_command=True)
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        console.print(f"banron {__version__}")
        raise typer.Exit()


def main() -> None:  # pragma: no cover
    app()
