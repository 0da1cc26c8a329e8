"""Storage that cannot be opened at start-up: `banron serve` and an ordinary CLI command both end
with one clear line on stderr and exit status 1, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_helpers import run_cli, serve_env


def _home_is_a_file(tmp: Path) -> dict[str, str]:
    home = tmp / "home"
    home.write_text("I am a file, not a directory\n")
    return serve_env(home)


def _damaged_debates_db(tmp: Path) -> dict[str, str]:
    home = tmp / "home"
    home.mkdir()
    (home / "debates.sqlite").write_bytes(b"this is not a SQLite database\n" * 100)
    return serve_env(home)


def _unreachable_postgres(tmp: Path) -> dict[str, str]:
    # Port 1 on loopback: connection refused at once (no network needed).
    return serve_env(tmp / "home", kb__database_url="postgresql://banron@127.0.0.1:1/banron")


def _unreachable_postgres_store(tmp: Path) -> dict[str, str]:
    # The debate and accounts stores on PostgreSQL (no index URL: banron.pg is loaded by the stores).
    return serve_env(tmp / "home", store__database_url="postgresql://banron@127.0.0.1:1/banron")


CASES = {
    "home-is-a-file": (_home_is_a_file, ["debates", "list"], "Not a directory"),
    "damaged-debates-db": (_damaged_debates_db, ["debates", "list"], "not a database"),
    "unreachable-postgres": (_unreachable_postgres, ["kb", "list"], "Connection refused"),
    "unreachable-postgres-store": (_unreachable_postgres_store, ["users", "list"], "Connection refused"),
}


@pytest.mark.parametrize("command", ["serve", "cli"])
@pytest.mark.parametrize("case", list(CASES))
def test_unusable_database_at_start_up_is_one_clear_line(tmp_path: Path, case: str, command: str) -> None:
    make_env, cli_args, reason = CASES[case]
    env = make_env(tmp_path)
    args = ["serve", "--port", "0"] if command == "serve" else cli_args
    out = run_cli(env, *args)
    assert out.returncode == 1, out
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("error: cannot use banron's data under") and reason in lines[0]
    assert "Traceback" not in out.stderr + out.stdout and "│" not in out.stderr
    assert "serving on" not in out.stdout
