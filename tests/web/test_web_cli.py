"""`banron users` (accounts for the web app) and `banron serve` (prints its URL and serves)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from banron.cli import app
from banron.store.accounts import AccountStore
from banron.web.passwords import token_hash, verify_password

runner = CliRunner()


def test_users_add_with_a_prompt_or_stdin_list_and_token(banron_home: Path) -> None:
    r = runner.invoke(
        app, ["users", "add", "root", "--role", "admin"], input="a good password\na good password\n"
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["users", "add", "t", "--role", "teacher", "--class", "2-3", "--password-stdin"],
                      input="teacher password\n")  # fmt: skip
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app, ["users", "add", "s", "--class", "2-3", "--password-stdin"], input="student password\n"
    )
    assert r.exit_code == 0, r.output
    store = AccountStore(banron_home / "accounts.sqlite")
    root, teacher, student = (store.get_user_by_name(n) for n in ("root", "t", "s"))
    assert root and root.role == "admin" and verify_password(store.password_hash(root.id), "a good password")
    assert teacher and student and student.role == "student"
    assert store.teaches(teacher_id=teacher.id, student_id=student.id)
    listed = runner.invoke(app, ["users", "list", "--json"])
    assert '"classes": ["2-3"]' in listed.stdout
    token = runner.invoke(app, ["users", "token", "s"]).stdout.strip()
    assert token.startswith("brn_") and store.user_by_api_token(token_hash(token)) == student
    # Refusals: a taken name, a short password, an unknown role, an admin in a class.
    for args, given in [
        (["users", "add", "s", "--password-stdin"], "student password\n"),
        (["users", "add", "x", "--password-stdin"], "short\n"),
        (["users", "add", "x", "--role", "god", "--password-stdin"], "a good password\n"),
        (["users", "add", "x", "--role", "admin", "--class", "2-3", "--password-stdin"], "a good password\n"),
    ]:
        r = runner.invoke(app, args, input=given)
        assert r.exit_code == 1 and "error" in r.output


def test_serve_prints_the_url_and_serves(banron_home: Path) -> None:
    env = {**os.environ, "BANRON_HOME": str(banron_home), "BANRON_LLM__BACKEND": "fake"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "banron.cli", "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert m, line
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{m.group(1)}/login", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.2)
        assert r.status_code == 200 and "banron" in r.text
        # First run: an admin account, its password printed once, and it works.
        first = proc.stdout.readline()
        found = re.search(r"sign in as admin with password (\S+) ", first)
        assert found, first
        accounts = AccountStore(banron_home / "accounts.sqlite")
        admin = accounts.get_user_by_name("admin")
        assert admin is not None and admin.role == "admin"
        assert verify_password(accounts.password_hash(admin.id), found.group(1))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
