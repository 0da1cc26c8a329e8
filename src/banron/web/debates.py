"""Debates for the web: engine work on worker threads, banron's speeches as server-sent events.

Every call into a debate engine (creating it, a student's turn, banron's speech) runs on an engine
worker thread, so the event loop never blocks. The embedded model is one llama.cpp instance per
process and writes one speech at a time, so with it there is one worker and requests queue in
arrival order; with an API model several debates are spoken in at once
(``debate.parallel_speeches``), each debate's work still one at a time. Engines stay in a small
cache; a debate not in it is resumed from the store.

A speech runs as a *job* that outlives the request that started it: its pieces are kept, so a
browser that reloads mid-speech replays them and follows the rest, and a closed tab still ends
with the turn committed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from banron.debate.engine import DebateEngine, Slot, TurnError, slot_at
from banron.debate.flow import Flow
from banron.debate.formats import Format, get_format
from banron.domain import Claim, Lang, Motion, Side, Turn
from banron.llm import LLMError
from banron.runtime import Runtime
from banron.store import DebateRecord, DebateStoreProtocol
from banron.store.base import DuplicateTurn
from banron.util import storage_errors, storage_problem

log = logging.getLogger(__name__)
T = TypeVar("T")
KEEPALIVE_S = 15.0


# -- what the browser and the API are sent -------------------------------------------------------
def display_source(source: str) -> str:
    """Uploaded files are recorded by their path on the server: show only the file name."""
    return Path(source).name if os.path.isabs(source) else source


def turn_payload(turn: Turn, fmt: Format | None) -> dict[str, Any]:
    phase = next((p for p in fmt.phases if p.id == turn.phase), None) if fmt else None
    data = turn.to_dict()
    data["phase_name"] = {"ko": phase.name_ko, "en": phase.name_en} if phase else {"ko": "", "en": ""}
    data["citations"] = [
        {
            "n": c.n,
            "passage_id": c.passage_id,
            "kb": c.kb,
            "quote": c.quote,
            "title": c.title,
            "source": display_source(c.source),
        }
        for c in turn.citations
    ]
    return data


def slot_payload(slot: Slot | None, student_side: Side) -> dict[str, Any] | None:
    if slot is None:
        return None
    p = slot.phase
    return {
        "index": slot.index,
        "round": slot.round,
        "phase": p.id,
        "name": {"ko": p.name_ko, "en": p.name_en},
        "purpose": {"ko": p.purpose_ko, "en": p.purpose_en},
        "kind": p.kind,
        "part": slot.part,
        "side": slot.side.value,
        "speaker": slot.speaker,
        "time_s": p.time_s,
        "words": p.words,
        "prep_s": p.prep_s,
        "questions": p.questions,
    }


def phase_position(fmt: Format, k: int, student_side: Side) -> int:
    """Index (in the format's cycle) of the phase the k-th turn belongs to."""
    i, index = 0, 0
    while (phase := fmt.phase_at(i)) is not None:
        index += 2 if phase.kind == "cross_examination" else 1
        if index > k:
            return i
        i += 1
    return i


def timeline(fmt: Format, n_turns: int, student_side: Side) -> list[dict[str, Any]]:
    """The format's phases with who speaks and whether each is done, current or to come."""
    current = phase_position(fmt, n_turns, student_side)
    base = (current // len(fmt.phases)) * len(fmt.phases) if fmt.repeat else 0
    out = []
    for j, p in enumerate(fmt.phases):
        pos = base + j
        side = p.side_of_speaker(student_side)
        out.append(
            {
                "phase": p.id,
                "name": {"ko": p.name_ko, "en": p.name_en},
                "kind": p.kind,
                "speaker": "student" if side is student_side else "banron",
                "time_s": p.time_s,
                "words": p.words,
                "state": "done" if pos < current else ("current" if pos == current else "upcoming"),
            }
        )
    return out


def flow_view(flow: Flow, fmt: Format | None) -> dict[str, Any]:
    """The flow sheet as columns (speeches) and rows (threads) of cells (claims), dropped marked."""
    names = {p.id: {"ko": p.name_ko, "en": p.name_en} for p in fmt.phases} if fmt else {}
    dropped = {e.id for e in flow.dropped()}
    rows = []
    for thread in flow.threads():
        cells: list[list[dict[str, Any]]] = [[] for _ in flow.columns]
        for e in thread.entries:
            cells[e.speech].append(
                {"id": e.id, "text": e.claim.text, "side": e.side.value, "dropped": e.id in dropped}
            )
        rows.append(cells)
    return {
        "columns": [
            {
                "turn": c.turn_n,
                "phase": c.phase,
                "name": names.get(c.phase, {"ko": c.phase, "en": c.phase}),
                "side": c.side.value,
                "speaker": c.speaker,
            }
            for c in flow.columns
        ],
        "rows": rows,
        "dropped": sorted(dropped),
    }


def debate_payload(record: DebateRecord, turns: Sequence[Turn]) -> dict[str, Any]:
    """Everything a debate page shows, as JSON (``GET /api/debates/{id}``)."""
    try:
        fmt: Format | None = get_format(record.format)
    except ValueError:
        fmt = None
    slot = slot_at(fmt, len(turns), record.student_side, record.exhibition) if fmt else None
    finished = record.status == "finished" or (fmt is not None and slot is None)
    motion = record.motion
    return {
        "id": record.id,
        "motion": {
            "id": record.motion_id,
            "text": record.motion_text,
            "text_en": motion.text_en if motion else "",
        },
        "format": record.format,
        "format_name": {"ko": fmt.name_ko, "en": fmt.name_en} if fmt else {"ko": "", "en": ""},
        "repeat": bool(fmt and fmt.repeat),
        "student_side": record.student_side.value,
        "lang": record.lang,
        "kbs": record.kbs,
        "status": "finished" if finished else "active",
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "slot": None if finished else slot_payload(slot, record.student_side),
        "timeline": timeline(fmt, len(turns), record.student_side) if fmt else [],
        "turns": [turn_payload(t, fmt) for t in turns],
        "flow": flow_view(Flow.from_turns(turns), fmt),
    }


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


# -- speeches as jobs -----------------------------------------------------------------------------
@dataclass
class SpeechJob:
    """banron's due turns for one debate, written on the worker, read by any number of streams.

    Events are appended on the event loop's thread only (the worker hands them over with
    ``call_soon_threadsafe``), so readers need no lock.
    """

    debate_id: str
    events: list[tuple[str, Any]] = field(default_factory=list)
    done: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    created: float = field(default_factory=time.monotonic)  # queueing is measured from here

    def add(self, event: str, data: Any) -> None:
        self.events.append((event, data))
        if event == "done":
            self.done = True
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    async def stream(self) -> AsyncIterator[str]:
        i = 0
        while True:
            while i < len(self.events):
                event, data = self.events[i]
                i += 1
                yield sse(event, data)
            if self.done:
                return
            try:
                await asyncio.wait_for(self.changed.wait(), KEEPALIVE_S)
            except TimeoutError:
                yield ": keep-alive\n\n"


@dataclass(frozen=True)
class Submitted:
    """A student's stored turn, with how long it waited for an engine thread (and its debate's lock)
    and how long the engine then took: claim extraction, linking (the e5 encoder) and the commit."""

    turn: Turn
    queued_ms: float
    worked_ms: float

    def server_timing(self) -> str:
        """The two durations as an HTTP ``Server-Timing`` header value (browsers' dev tools show it)."""
        return f"queued;dur={self.queued_ms:.1f}, worked;dur={self.worked_ms:.1f}"


class DebateService:
    """Debate work on engine threads: ``debate.parallel_speeches`` of them (one with the embedded
    model, several with an API model, so one student's long speech does not hold up a class).

    Work on one debate is serialised by a lock of its own (one of ``LOCK_STRIPES``, chosen by the
    debate's id), so two tabs of the same debate cannot interleave a submit and a speech; work on
    different debates runs side by side. The retriever, embedder, tokenizer and stores are safe to
    share between threads.
    """

    LOCK_STRIPES = 64

    def __init__(self, rt: Runtime, store: DebateStoreProtocol, cache_size: int = 32) -> None:
        self.rt = rt
        self.store = store
        self.cache_size = cache_size
        self.workers = rt.settings.debate.speech_workers(rt.settings.llm.backend)
        self.executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="banron-engine")
        self._engines: OrderedDict[str, DebateEngine] = OrderedDict()  # under _engines_lock
        self._engines_lock = threading.Lock()
        self._stripes = [threading.Lock() for _ in range(self.LOCK_STRIPES)]
        self._jobs: dict[str, SpeechJob] = {}  # event loop only
        # The bundled evidence goes in first, before any debate needs it (every worker waits).
        self.ready: Future[Any] = self.executor.submit(rt.ensure_bundled)

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, partial(fn, *args, **kwargs))

    def _lock(self, debate_id: str) -> threading.Lock:
        """The lock of this debate's stripe (shared with the other debates hashed to it)."""
        return self._stripes[zlib.crc32(debate_id.encode()) % self.LOCK_STRIPES]

    @contextmanager
    def _debate(self, debate_id: str) -> Iterator[None]:
        """On a worker: the bundled evidence is in, and no other worker is in this debate."""
        self.ready.result()
        with self._lock(debate_id):
            yield

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)

    # -- worker-thread side --------------------------------------------------------------------
    def _remember(self, debate_id: str, engine: DebateEngine) -> None:
        with self._engines_lock:
            self._engines[debate_id] = engine
            self._engines.move_to_end(debate_id)
            while len(self._engines) > self.cache_size:
                self._engines.popitem(last=False)

    def _forget(self, debate_id: str) -> None:
        with self._engines_lock:
            self._engines.pop(debate_id, None)

    def _engine(self, debate_id: str) -> DebateEngine:
        with self._engines_lock:
            engine = self._engines.get(debate_id)
        if engine is None:
            engine = DebateEngine.resume(self.rt, self.store, debate_id)
        self._remember(debate_id, engine)
        return engine

    def _create(
        self, *, fmt: Format, motion: Motion, side: Side, lang: Lang, kbs: list[str], owner: str
    ) -> DebateRecord:
        self.ready.result()
        engine = DebateEngine.create(
            self.rt,
            fmt=fmt,
            motion=motion,
            student_side=side,
            lang=lang,
            kbs=kbs,
            store=self.store,
            owner=owner,
        )
        assert engine.record is not None
        self._remember(engine.record.id, engine)
        return engine.record

    def _submit(self, debate_id: str, text: str, elapsed_s: float | None, created: float) -> Submitted:
        with self._debate(debate_id):
            started = time.monotonic()
            try:
                turn = self._engine(debate_id).submit(text, elapsed_s)
            except DuplicateTurn:
                # Another process wrote this debate since this one cached it: reload, retry.
                self._forget(debate_id)
                turn = self._engine(debate_id).submit(text, elapsed_s)
            return Submitted(
                turn, queued_ms=(started - created) * 1000, worked_ms=(time.monotonic() - started) * 1000
            )

    def _read_ahead(self, debate_id: str, draft: str) -> list[Claim] | None:
        """A draft's claims, their embedding started (``DebateEngine.read_ahead``); None when it is
        not the student's turn, or banron is still loading its evidence, or the debate has to be
        resumed from the store while an engine thread holds its lock.

        Runs beside the engine threads, never on one: a draft must not queue behind speeches. A
        cached engine is read without the debate's lock, which a speech (this debate's, or
        another's sharing the lock) holds for seconds: ``read_ahead`` only reads, and a turn
        stored meanwhile at worst makes this draft's claims those of a turn already taken.
        """
        if not self.ready.done():
            return None
        with self._engines_lock:
            engine = self._engines.get(debate_id)
        if engine is not None:
            return engine.read_ahead(draft)
        lock = self._lock(debate_id)
        if not lock.acquire(blocking=False):  # resuming races an engine thread: skip this draft
            return None
        try:
            return self._engine(debate_id).read_ahead(draft)
        finally:
            lock.release()

    def _end(self, debate_id: str) -> None:
        with self._debate(debate_id):
            self._engine(debate_id).end()
            self._forget(debate_id)

    def _speak(self, job: SpeechJob, loop: asyncio.AbstractEventLoop) -> None:
        def post(event: str, data: Any) -> None:
            loop.call_soon_threadsafe(job.add, event, data)

        started = time.monotonic()
        try:
            with self._debate(job.debate_id):
                started = time.monotonic()
                engine = self._engine(job.debate_id)
                for item in engine.run_banron():
                    if isinstance(item, Turn):
                        post("turn", turn_payload(item, engine.fmt))
                    else:
                        post("piece", {"text": item})
        except (LLMError, TurnError, DuplicateTurn) as e:
            self._forget(job.debate_id)  # resume from what was committed
            post("error", {"message": str(e)})
        except storage_errors() as e:  # disk full, home read-only, database gone: turn rolled back
            log.error("banron's speech could not be saved in debate %s: %s", job.debate_id, e)
            self._forget(job.debate_id)
            problem = storage_problem(e, self.rt.settings.home)
            post("error", {"message": f"banron's speech could not be saved: {problem}. Try again."})
        except Exception as e:  # the stream must end cleanly whatever happened
            log.exception("banron's speech failed in debate %s", job.debate_id)
            self._forget(job.debate_id)
            post("error", {"message": f"{type(e).__name__}: {e}"})
        finally:
            # How long the job waited for an engine thread (and its debate's lock), and how long it
            # then took (benchmarks/load.py separates queueing from per-turn work with these).
            ended = time.monotonic()
            timings = {
                "queued_ms": round((started - job.created) * 1000, 1),
                "worked_ms": round((ended - started) * 1000, 1),
            }
            # Forget the job in the same loop step that sends `done`: a client that submits its next
            # turn the moment it reads `done` must not be told "banron is still speaking".
            loop.call_soon_threadsafe(self._finish, job, timings)

    def _finish(self, job: SpeechJob, timings: dict[str, float]) -> None:  # event loop only
        if self._jobs.get(job.debate_id) is job:
            del self._jobs[job.debate_id]
        job.add("done", timings)

    # -- event-loop side -----------------------------------------------------------------------
    async def create(
        self, *, fmt: Format, motion: Motion, side: Side, lang: Lang, kbs: list[str], owner: str
    ) -> DebateRecord:
        return await self._run(
            self._create, fmt=fmt, motion=motion, side=side, lang=lang, kbs=kbs, owner=owner
        )

    async def submit(self, debate_id: str, text: str, elapsed_s: float | None) -> Submitted:
        if debate_id in self._jobs:
            raise TurnError("banron is still speaking")
        return await self._run(self._submit, debate_id, text, elapsed_s, time.monotonic())

    async def read_ahead(self, debate_id: str, draft: str) -> list[Claim] | None:
        if debate_id in self._jobs:  # banron is speaking: the student reads, the draft can wait
            return None
        return await asyncio.to_thread(self._read_ahead, debate_id, draft)

    async def end(self, debate_id: str) -> None:
        await self._run(self._end, debate_id)

    def job(self, debate_id: str) -> SpeechJob | None:
        return self._jobs.get(debate_id)

    def speak(self, debate_id: str) -> SpeechJob:
        """The running speech job of this debate, or a new one for banron's due turns."""
        job = self._jobs.get(debate_id)
        if job is not None:
            return job
        job = self._jobs[debate_id] = SpeechJob(debate_id)
        loop = asyncio.get_running_loop()
        self.executor.submit(self._speak, job, loop)  # the job forgets itself when done (_finish)
        return job
