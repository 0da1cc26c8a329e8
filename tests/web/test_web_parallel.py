"""Engine threads: with an API-like backend several debates are spoken in at once; with one worker
they queue. The fake model writes at a fixed pace, so a speech takes real, measurable time."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from web_app import runtime_sharing

from banron.content import find_motion
from banron.debate.formats import get_format
from banron.domain import Side
from banron.runtime import Runtime
from banron.store.sqlite import DebateStore
from banron.web.debates import DebateService

REPLY = "The evidence points the other way, and the claim does not survive it once the numbers are read."
SPEECH = "Homework steals children's sleep and play time, so it should be abolished in primary schools."


def _runtime(base: Runtime, home: Path, parallel: int) -> Runtime:
    settings = base.settings.model_copy(deep=True, update={"home": home})
    settings.llm.backend = "fake"
    settings.llm.fake.reply = REPLY
    settings.llm.fake.tokens_per_s = 40.0  # ~0.4 s per model call
    settings.debate.style = "llm"
    settings.debate.parallel_speeches = parallel
    return runtime_sharing(base, settings)


async def _two_speeches(svc: DebateService) -> list[dict[str, Any]]:
    ids = []
    for _ in range(2):
        record = await svc.create(
            fmt=get_format("free"), motion=find_motion("homework-abolition"),  # type: ignore[arg-type]
            side=Side.PRO, lang="en", kbs=["bundled"], owner="alice",
        )  # fmt: skip
        await svc.submit(record.id, SPEECH, None)
        ids.append(record.id)
    jobs = [svc.speak(i) for i in ids]  # both asked for at the same moment
    done = []
    for job in jobs:
        async for chunk in job.stream():
            if chunk.startswith("event: done"):
                done.append(json.loads(chunk.split("data: ", 1)[1]))
    return done


@pytest.mark.parametrize("parallel", [1, 2])
def test_speeches_in_different_debates_run_side_by_side_only_with_workers_to_spare(
    web_runtime: Runtime, tmp_path: Path, parallel: int
) -> None:
    rt = _runtime(web_runtime, tmp_path, parallel)
    svc = DebateService(rt, DebateStore(tmp_path / "debates.sqlite"))
    try:
        assert svc.workers == parallel
        first, second = asyncio.run(_two_speeches(svc))
    finally:
        svc.close()
    assert first["worked_ms"] > 300 and second["worked_ms"] > 300  # the model's pace is real
    if parallel == 1:  # the second waits for the whole first speech
        assert second["queued_ms"] >= 0.8 * first["worked_ms"]
    else:  # both start at once
        assert second["queued_ms"] < 0.5 * first["worked_ms"]


def test_the_default_is_one_worker_for_the_embedded_model_and_eight_for_an_api() -> None:
    from banron.config import DebateSettings

    assert DebateSettings().speech_workers("local") == 1
    assert DebateSettings().speech_workers("openai") == 8
    assert DebateSettings(parallel_speeches=3).speech_workers("local") == 3
