"""A speech job is forgotten by the time its `done` event is read: a client that submits its next
turn at once must not be refused with "banron is still speaking" (seen under load, before the fix:
the job was dropped by a later callback, after `done` had already gone out)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from banron.config import Settings
from banron.web.debates import DebateService, SpeechJob


class _Runtime:
    def __init__(self, home: Path) -> None:
        self.settings = Settings(home=home)

    def ensure_bundled(self) -> None:
        return None


class _Engine:
    fmt = None

    def run_banron(self) -> Iterator[str]:
        yield "첫 문장."
        yield " 둘째 문장."


def test_job_is_gone_when_done_is_sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    service = DebateService(_Runtime(tmp_path), store=None)  # type: ignore[arg-type]
    service._engine = lambda debate_id: _Engine()  # type: ignore[assignment,method-assign,return-value]
    still_running: list[object] = []
    add = SpeechJob.add

    def watched_add(job: SpeechJob, event: str, data: Any) -> None:
        if event == "done":  # the moment a reader can see `done`, may the next turn start?
            still_running.append(service.job(job.debate_id))
        add(job, event, data)

    monkeypatch.setattr(SpeechJob, "add", watched_add)

    async def run() -> None:
        for _ in range(5):
            job = service.speak("d1")
            async for _chunk in job.stream():
                pass

    try:
        asyncio.run(run())
    finally:
        service.close()
    assert still_running == [None] * 5
