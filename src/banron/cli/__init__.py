"""The ``banron`` command: thin Typer commands that wire settings to the core and render results.

This module builds the command tree; each area's commands live in their own module (``kb``,
``config``, ``debate``, ``debates``, ``evaluate``, ``judge``, ``web``, ``motions``) and share
``common`` (consoles, errors, the runtime). Registration order is the order ``--help`` lists them in.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from banron import __version__
from banron.cli import config, debate, debates, evaluate, judge, kb, motions, web
from banron.cli.common import console, err
from banron.util import storage_errors

__all__ = ["app", "main"]


def _storage_errors() -> tuple[type[Exception], ...]:
    # banron.pg.DatabaseUnavailable too once a PostgreSQL backend (index or stores) is loaded.
    return storage_errors()


class _App(typer.Typer):
    """The command tree. Storage that cannot be used (BANRON_HOME not a directory, read-only or
    full, a damaged database file, an unreachable PostgreSQL) ends the command with one line and
    exit status 1, not a traceback: it is the user's machine to fix, not a bug to report."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except _storage_errors() as e:
            if isinstance(e, ConnectionError):  # a closed pipe (`| head`) or socket is not storage
                raise
            from banron.config import default_home

            if isinstance(e, OSError) and e.filename:
                reason = f"{e.strerror or type(e).__name__}: {e.filename}"
            else:
                reason = " ".join(str(e).split()) or type(e).__name__
            err.print(
                f"[bold red]error:[/] cannot use banron's data under {escape(str(default_home()))}: "
                f"{escape(reason)}",
                soft_wrap=True,
            )
            raise SystemExit(1) from None


app = _App(
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
