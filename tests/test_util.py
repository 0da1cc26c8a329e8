"""Shared helpers in banron.util."""

from __future__ import annotations

import os
import sys

import pytest

from banron.util import ForkSafeThreadPool


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_a_pool_of_its_own() -> None:
    pool = ForkSafeThreadPool("test-pool", lambda: 2)
    assert pool.get().submit(lambda: 41 + 1).result(timeout=10) == 42  # the parent's threads exist
    pid = os.fork()
    if pid == 0:  # the child: the inherited pool has no threads; a fresh one must answer
        try:
            ok = pool.get().submit(lambda: os.getpid()).result(timeout=10) == os.getpid()
        except BaseException:
            ok = False
        sys.stdout.flush()
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert pool.get().submit(lambda: "still").result(timeout=10) == "still"  # the parent's pool is kept
