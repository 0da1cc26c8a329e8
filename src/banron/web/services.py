"""Operations shared by the pages and the JSON API (so both enforce the same rules)."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import UploadFile

from banron.debate.flow import Flow
from banron.debate.formats import formats
from banron.debate.limits import count_words
from banron.domain import Lang, Side
from banron.store.accounts import ClassRoom, User
from banron.store.sqlite import DebateRecord
from banron.web.auth import owner_key
from banron.web.debates import display_source
from banron.web.ingest import EXTENSIONS, KB_NAME, IngestJob, safe_filename
from banron.web.motions import find_motion
from banron.web.state import WebState


class CreateError(ValueError):
    """A debate that cannot start; ``code`` names the reason for the UI (``errors.<code>``)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def create_debate(
    state: WebState, user: User, *, motion_id: str, format_id: str, side: str, lang: str = ""
) -> DebateRecord:
    choice = find_motion(state.accounts, motion_id)
    if choice is None:
        raise CreateError("unknown_motion")
    fmt = formats().get(format_id)
    if fmt is None:
        raise CreateError("unknown_format")
    if side not in ("pro", "con"):
        raise CreateError("bad_side")
    if lang not in ("", "ko", "en"):
        raise CreateError("bad_lang")
    the_lang: Lang = "en" if (lang or choice.motion.lang) == "en" else "ko"
    await asyncio.wrap_future(state.engine.ready)  # the bundled evidence is in (the worker's first job)
    if not state.rt.index.has_kb(choice.kb) or not state.rt.index.count(choice.kb):
        raise CreateError("empty_kb")
    return await state.engine.create(
        fmt=fmt, motion=choice.motion, side=Side(side), lang=the_lang, kbs=[choice.kb], owner=owner_key(user)
    )


# -- evidence -------------------------------------------------------------------------------------
def citation_detail(state: WebState, record: DebateRecord, turn_n: int, n: int) -> dict[str, Any] | None:
    """A cited passage with the quoted sentence located in it, for the evidence panel."""
    turn = next((t for t in state.debates.turns(record.id) if t.n == turn_n), None)
    cite = next((c for c in turn.citations if c.n == n), None) if turn else None
    if cite is None:
        return None
    passage = state.rt.index.get(cite.kb, cite.passage_id)
    text = passage.text if passage else cite.quote
    start = text.find(cite.quote) if cite.quote else -1
    if start < 0 and cite.quote:  # the quote may differ in whitespace only
        squeezed = re.escape(" ".join(cite.quote.split())).replace(r"\ ", r"\s+")
        m = re.search(squeezed, text)
        start, end = (m.start(), m.end()) if m else (-1, -1)
    else:
        end = start + len(cite.quote)
    return {
        "n": cite.n,
        "turn": turn_n,
        "kb": cite.kb,
        "passage_id": cite.passage_id,
        "title": (passage.title if passage else cite.title) or cite.title,
        "source": display_source(passage.source if passage else cite.source),
        "page": passage.page if passage else None,
        "section": passage.section if passage else "",
        "stance": passage.stance if passage else "",
        "lang": passage.lang if passage else "",
        "text": text,
        "quote": cite.quote,
        "highlight": [start, end] if start >= 0 else None,
        "missing": passage is None,
    }


async def save_uploads(
    state: WebState, kb: str, uploads: list[UploadFile]
) -> tuple[list[Path], list[tuple[str, str]]]:
    """Save uploaded files into the knowledge base's folder; unsupported ones are listed, not saved."""
    folder = state.ingest.folder(kb)
    saved: list[Path] = []
    rejected: list[tuple[str, str]] = []
    limit = state.config.max_upload_bytes
    for upload in uploads:
        name = safe_filename(upload.filename or "")
        if not name.lower().endswith(EXTENSIONS):
            rejected.append((name, f"unsupported file type; use {', '.join(EXTENSIONS)}"))
            continue
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := await upload.read(1024 * 1024):
                    size += len(chunk)
                    if size > limit:
                        raise OverflowError
                    out.write(chunk)
            if size == 0:
                rejected.append((name, "empty file"))
                Path(tmp).unlink(missing_ok=True)
                continue
            os.replace(tmp, folder / name)
            saved.append(folder / name)
        except OverflowError:
            Path(tmp).unlink(missing_ok=True)
            rejected.append((name, "file too large"))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return saved, rejected


async def start_upload(state: WebState, user: User, kb: str, uploads: list[UploadFile]) -> IngestJob:
    if not KB_NAME.match(kb) or kb == "bundled":
        raise CreateError("bad_kb")
    saved, rejected = await save_uploads(state, kb, uploads)
    return state.ingest.start(kb, saved, rejected, user.id)


# -- teachers' views -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResultRow:
    student: User
    record: DebateRecord
    turns: int
    words: int
    claims: int
    dropped: int
    citations: int


def class_results(state: WebState, classroom: ClassRoom) -> list[ResultRow]:
    rows = []
    for student in state.accounts.members(classroom.id):
        for record, n in state.debates.list_debates(owner=owner_key(student)):
            turns = state.debates.turns(record.id)
            flow = Flow.from_turns(turns)
            mine = [t for t in turns if t.speaker == "student"]
            rows.append(
                ResultRow(
                    student=student,
                    record=record,
                    turns=n,
                    words=sum(count_words(t.text) for t in mine),
                    claims=sum(1 for e in flow.entries if e.side is record.student_side),
                    dropped=sum(1 for e in flow.dropped() if e.side is record.student_side),
                    citations=sum(len(t.citations) for t in turns if t.speaker == "banron"),
                )
            )
    return rows


CSV_COLUMNS = [
    "class",
    "student",
    "debate_id",
    "created_at",
    "motion",
    "format",
    "student_side",
    "lang",
    "status",
    "turns",
    "student_words",
    "student_claims",
    "student_dropped",
    "banron_citations",
]


def _cell(value: object) -> str:
    # A cell a spreadsheet would run as a formula (=, +, -, @) is quoted as text.
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def results_csv(classroom: ClassRoom, rows: list[ResultRow]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                _cell(v)
                for v in (
                    classroom.name,
                    r.student.name,
                    r.record.id,
                    r.record.created_at,
                    r.record.motion_text,
                    r.record.format,
                    r.record.student_side.value,
                    r.record.lang,
                    r.record.status,
                    r.turns,
                    r.words,
                    r.claims,
                    r.dropped,
                    r.citations,
                )
            ]
        )
    return buf.getvalue()
