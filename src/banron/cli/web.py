"""``banron serve`` and ``banron users``: run the web app and manage its accounts."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from banron.cli.common import LlmOpt, console, fail, runtime


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every network).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free port).")] = 8000,
    llm: LlmOpt = None,
) -> None:
    """Serve the web app for students and teachers (sign in with an account from `banron users add`)."""
    import socket
    import threading

    import uvicorn

    from banron.web.app import create_app

    rt = runtime(llm)
    rt.index  # noqa: B018 -- open the knowledge base now: an unusable database fails start-up, not a request
    web = create_app(runtime=rt)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        raise fail(f"cannot listen on {host}:{port}: {e}") from None
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    console.print(f"banron is serving on [bold]http://{shown}:{bound}/[/]  (Ctrl+C stops it)")
    password = first_admin(web.state.banron.accounts)
    if password:
        console.print(
            f"first run: sign in as [bold]admin[/] with password [bold]{password}[/] "
            "(change it on the account page; add teachers and students there or with `banron users add`)",
            soft_wrap=True,
        )
    threading.Thread(target=settle, args=(web.state.banron,), name="banron-settle", daemon=True).start()
    config = uvicorn.Config(web, log_level="warning", proxy_headers=True, timeout_graceful_shutdown=3)
    uvicorn.Server(config).run(sockets=[sock])


def settle(state: Any) -> None:
    """Load what the first speech would, then exempt it from the garbage collector's full passes.

    A full collection walks every object the interpreter tracks, with every thread stopped, and
    lands on every speech under way (in ``benchmarks/load.py``: about two a minute, 32-88 ms each).
    What start-up loads lives as long as the server, so it is frozen out of those passes
    (``gc.freeze``); what debates create is still collected, and is most of what a pass walks:
    the freeze took the passes measured to 27-61 ms, no more. The warm-up also spares the first
    student's speech the loading. Runs in the background, so the server answers at once; a
    failure here is left for the first request to report.
    """
    import gc

    try:
        state.engine.ready.result()
        state.rt.warm_up()
    except Exception:  # the request that needs it gets the error, with its context
        return
    gc.collect()
    gc.freeze()


def first_admin(accounts: Any) -> str | None:
    """On first run, one admin account so the app is usable at once; its password, shown only once.

    None when there are users already, including when another worker starting at the same moment
    created the admin first (that worker shows the password).
    """
    if accounts.list_users():
        return None
    import secrets

    from banron.store.accounts import AccountError
    from banron.web.passwords import hash_password

    password = secrets.token_urlsafe(12)
    try:
        accounts.add_user(name="admin", role="admin", password_hash=hash_password(password))
    except AccountError:
        return None
    return password


users_app = typer.Typer(help="Web accounts: add users, list them, make API tokens.", no_args_is_help=True)


def _accounts() -> Any:
    from banron.store import open_accounts

    return open_accounts(runtime().settings)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, _ . @ -).")],
    role: Annotated[str, typer.Option(help="admin, teacher or student.")] = "student",
    class_name: Annotated[
        str | None, typer.Option("--class", help="Put the user in this class (made if missing).")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add a web account; asks for its password (or reads it with --password-stdin)."""
    import sys

    from banron.store.accounts import ROLES, AccountError
    from banron.web.passwords import PasswordError, hash_password

    if role not in ROLES:
        raise fail(f"--role must be one of {', '.join(ROLES)}")
    if class_name and role == "admin":
        raise fail("admins see every class: --class is for teachers and students")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        digest = hash_password(password)
    except PasswordError as e:
        raise fail(str(e)) from None
    accounts = _accounts()
    try:
        user = accounts.add_user(name=name, role=role, password_hash=digest)
        if class_name:  # a teacher teaches the class, a student joins it
            classroom = accounts.get_class_by_name(class_name) or accounts.create_class(
                name=class_name, teacher_id=None
            )
            if role == "teacher":
                accounts.set_class_teacher(class_id=classroom.id, teacher_id=user.id)
            else:
                accounts.add_member(class_id=classroom.id, user_id=user.id)
    except AccountError as e:
        raise fail(str(e)) from None
    where = ""
    if class_name:
        where = f" teaching class {class_name}" if role == "teacher" else f" in class {class_name}"
    console.print(f"added {escape(role)} [bold]{escape(name)}[/]{escape(where)}")


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List web accounts with their roles and classes."""
    accounts = _accounts()
    rows = [(u, [c.name for c in accounts.classes_of(u.id)]) for u in accounts.list_users()]
    if as_json:
        out = [{"name": u.name, "role": u.role, "classes": cs} for u, cs in rows]
        print(json.dumps(out, ensure_ascii=False))
        return
    table = Table("name", "role", "classes")
    for u, cs in rows:
        table.add_row(escape(u.name), u.role, escape(", ".join(cs)))
    console.print(table)


@users_app.command("token")
def users_token(name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Make a new API token for a user (replaces the old one) and print it once."""
    from banron.web.passwords import new_token, token_hash

    accounts = _accounts()
    user = accounts.get_user_by_name(name)
    if user is None:
        raise fail(f"no user {name!r}; see `banron users list`")
    token = new_token("brn_")
    accounts.set_api_token(user_id=user.id, token_hash=token_hash(token))
    print(token)
