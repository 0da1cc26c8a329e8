"""The load benchmark's students write their own sentences, so no cache can serve the run."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

pytest.importorskip("httpx")
_spec = importlib.util.spec_from_file_location(
    "load_bench", Path(__file__).parents[2] / "benchmarks" / "load.py"
)
assert _spec is not None and _spec.loader is not None
load = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = load  # (its dataclasses look their module up)
_spec.loader.exec_module(load)


def test_no_sentence_repeats_over_a_class_and_a_long_run() -> None:
    speeches = [load.student_speech(s, t) for s in range(1, 201) for t in range(80)]
    sentences = [x for sp in speeches for x in re.split(r"(?<=\.)\s+", sp)]
    assert len(sentences) == len(set(sentences)) >= 2 * len(speeches)
    assert all(re.search("[가-힣]", x) and not re.search(r"\{\w+\}", x) for x in sentences)  # slots filled


def test_a_students_speech_is_the_same_on_every_run() -> None:
    assert load.student_speech(7, 3) == load.student_speech(7, 3) != load.student_speech(7, 4)


def test_server_timing_is_read_as_the_api_writes_it() -> None:
    assert load.server_timing("queued;dur=1.5, worked;dur=20") == {"queued": 1.5, "worked": 20.0}
    assert load.server_timing('db;desc="x";dur=3, cache') == {"db": 3.0}  # no duration: left out
    assert load.server_timing("") == {}
