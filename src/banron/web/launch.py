"""Start ``banron serve`` in a child process and wait until it answers.

For benchmarks, tests and scripts that need a real server on loopback: one way to start it, read
the address it prints, keep its output drained (a chatty server must never block on a full pipe)
and wait for its first page.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Mapping

import httpx


class ServeError(RuntimeError):
    """The server did not start or did not answer in time (its output is in the message)."""


def start_serve(env: Mapping[str, str], *, timeout: float = 60.0) -> tuple[subprocess.Popen[str], str]:
    """``banron serve --port 0`` with ``env``; returns the process and its base URL once it answers."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "banron.cli", "serve", "--port", "0"],
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
    if not m:
        proc.kill()
        raise ServeError(f"banron serve did not start: {line}{proc.stdout.read()}")
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    url = m.group(1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/login", timeout=5)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise ServeError(f"banron serve did not answer within {timeout:.0f} s")
