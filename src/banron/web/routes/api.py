"""The JSON API under ``/api`` (OpenAPI at ``/docs``), on the same core and rules as the pages.

Authenticate with the session cookie (and the ``X-CSRF-Token`` header on writes, as the pages'
scripts do) or with a personal token: ``Authorization: Bearer brn_...`` from the account page or
``banron users token NAME``. banron's speech streams from ``POST /api/debates/{id}/speak`` as
server-sent events: ``piece`` (text as it is written), ``turn`` (the stored turn with its
citations), ``error``, then ``done``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.responses import Response

from banron.debate.engine import TurnError
from banron.debate.formats import formats
from banron.store.accounts import AccountError, User
from banron.web import scorecards
from banron.web.auth import (
    CurrentUser,
    NotFound,
    StateDep,
    TeacherUser,
    can_review_student,
    own_debate,
    owner_key,
    readable_debate,
)
from banron.web.debates import debate_payload, display_source, turn_payload
from banron.web.limits import RateLimiter
from banron.web.motions import all_motions, find_motion
from banron.web.routes.student import export_response
from banron.web.routes.teacher import my_class, my_classes
from banron.web.services import (
    CreateError,
    citation_detail,
    class_results,
    create_debate,
    results_csv,
    start_upload,
)

router = APIRouter(prefix="/api", tags=["api"])

SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


class NewDebate(BaseModel):
    motion_id: str = Field(max_length=200, description="A motion id from GET /api/motions.")
    format: str = Field("free", max_length=40, description="A format id from GET /api/formats.")
    side: Literal["pro", "con"] = Field(description="The student's side; banron argues the other.")
    lang: Literal["", "ko", "en"] = Field("", description="Debate language; empty: the motion's.")


class NewTurn(BaseModel):
    text: str = Field(min_length=1, max_length=20_000, description="The student's speech.")
    elapsed_s: float | None = Field(None, ge=0, le=24 * 3600, description="Seconds the student spoke.")


class Draft(BaseModel):
    text: str = Field(max_length=20_000, description="What the student has written of the speech so far.")


class MotionIn(BaseModel):
    text: str = Field(min_length=1, max_length=500)
    lang: Literal["ko", "en"]
    text_en: str = Field("", max_length=500)
    summary: str = Field("", max_length=2000)
    kb: str = Field("bundled", max_length=40, description="Knowledge base the debates argue from.")


class StanceIn(BaseModel):
    passage_id: str = Field(max_length=400)
    stance: Literal["pro", "con", "neutral"]
    motion: str = Field("", max_length=200, description="The motion id the stance is relative to.")


class ClassIn(BaseModel):
    name: str = Field(min_length=1, max_length=80)


class MemberIn(BaseModel):
    name: str = Field(min_length=1, max_length=64, description="An existing student's user name.")


def _too_fast(limiter: RateLimiter, user: User, detail: str) -> JSONResponse | None:
    """A 429 with Retry-After when ``user`` is over ``limiter``'s rate (the event is counted when not)."""
    wait = limiter.hit(owner_key(user))
    if not wait:
        return None
    retry = {"Retry-After": str(int(wait) + 1)}
    return JSONResponse({"detail": detail, "code": "rate_limited"}, status_code=429, headers=retry)


def _error(status: int, code: str, message: str = "") -> JSONResponse:
    return JSONResponse({"detail": message or code, "code": code}, status_code=status)


# -- who and what -----------------------------------------------------------------------------------
@router.get("/me", summary="The signed-in user")
def me(user: CurrentUser, state: StateDep) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "role": user.role,
        "classes": [{"id": c.id, "name": c.name} for c in state.accounts.classes_of(user.id)],
    }


@router.get("/motions", summary="Motions to debate (teachers' and bundled)")
def list_motions(user: CurrentUser, state: StateDep) -> list[dict[str, Any]]:
    return [m.to_dict() for m in all_motions(state.accounts)]


@router.get("/formats", summary="Debate formats and their phases")
def list_formats(user: CurrentUser) -> list[dict[str, Any]]:
    return [f.to_dict() for f in formats().values()]


# -- debates --------------------------------------------------------------------------------------
@router.get("/debates", summary="Your debates, or a student's (teachers of their class, admins)")
def list_debates(user: CurrentUser, state: StateDep, student_id: int | None = None) -> list[dict[str, Any]]:
    who = user
    if student_id is not None and student_id != user.id:
        student = state.accounts.get_user(student_id)
        if student is None or not can_review_student(state, user, student):
            raise NotFound
        who = student
    return [
        {
            "id": r.id,
            "motion": r.motion_text,
            "format": r.format,
            "student_side": r.student_side.value,
            "lang": r.lang,
            "status": r.status,
            "created_at": r.created_at,
            "turns": n,
        }
        for r, n in state.debates.list_debates(owner=owner_key(who))
    ]


@router.post("/debates", status_code=201, summary="Start a debate")
async def new_debate(body: NewDebate, user: CurrentUser, state: StateDep) -> Any:
    try:
        record = await create_debate(
            state, user, motion_id=body.motion_id, format_id=body.format, side=body.side, lang=body.lang
        )
    except CreateError as e:
        return _error(400, e.code)
    return JSONResponse(debate_payload(record, []), status_code=201)


@router.get("/debates/{debate_id}", summary="A debate: turns, whose turn it is, timeline, flow sheet")
def get_debate(debate_id: str, user: CurrentUser, state: StateDep) -> dict[str, Any]:
    record = readable_debate(state, user, debate_id)
    return debate_payload(record, state.debates.turns(record.id))


@router.post("/debates/{debate_id}/turns", status_code=201, summary="Submit the student's speech")
async def submit_turn(debate_id: str, body: NewTurn, user: CurrentUser, state: StateDep) -> Any:
    record = own_debate(state, user, debate_id)
    if record.status == "finished":
        return _error(409, "not_your_turn", "the debate is over")
    if limited := _too_fast(state.turn_limit, user, "too many speeches; wait a moment"):
        return limited
    try:
        done = await state.engine.submit(record.id, body.text, body.elapsed_s)
    except TurnError as e:
        return _error(409, "not_your_turn", str(e))
    except ValueError as e:
        return _error(400, "bad_speech", str(e))
    fmt = formats().get(record.format)
    return JSONResponse(
        turn_payload(done.turn, fmt), status_code=201, headers={"Server-Timing": done.server_timing()}
    )


@router.post(
    "/debates/{debate_id}/draft",
    status_code=202,
    summary="The speech being written: banron reads ahead (nothing is stored)",
)
async def draft(debate_id: str, body: Draft, user: CurrentUser, state: StateDep) -> Any:
    """The claims banron would answer if this were submitted now. Their embedding starts at once,
    so the submit does not wait for it. ``read`` is false when banron could not look now (it is
    banron's turn, or the debate is busy): send the draft again later. The text stays in memory on
    this machine, never stored, never sent to a model."""
    record = own_debate(state, user, debate_id)
    if record.status == "finished":
        return _error(409, "not_your_turn", "the debate is over")
    if limited := _too_fast(state.draft_limit, user, "drafts are coming too fast"):
        return limited
    claims = await state.engine.read_ahead(record.id, body.text)
    return JSONResponse(
        {"read": claims is not None, "claims": [{"id": c.id, "text": c.text} for c in claims or []]},
        status_code=202,
    )


@router.post(
    "/debates/{debate_id}/speak",
    summary="banron's due turns, streamed as server-sent events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def speak(debate_id: str, user: CurrentUser, state: StateDep) -> StreamingResponse:
    record = own_debate(state, user, debate_id)
    job = state.engine.speak(record.id)
    return StreamingResponse(job.stream(), media_type="text/event-stream", headers=SSE_HEADERS)


@router.get(
    "/debates/{debate_id}/events",
    summary="Follow a speech in progress (readers: the owner, their teachers)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def follow(debate_id: str, user: CurrentUser, state: StateDep) -> StreamingResponse:
    record = readable_debate(state, user, debate_id)
    job = state.engine.job(record.id)

    async def nothing() -> Any:
        yield "event: done\ndata: {}\n\n"

    return StreamingResponse(
        job.stream() if job else nothing(), media_type="text/event-stream", headers=SSE_HEADERS
    )


@router.post("/debates/{debate_id}/end", summary="End a debate (free sparring has no last phase)")
async def end(debate_id: str, user: CurrentUser, state: StateDep) -> dict[str, Any]:
    record = own_debate(state, user, debate_id)
    await state.engine.end(record.id)
    return {"id": record.id, "status": "finished"}


@router.get("/debates/{debate_id}/citations/{turn}/{n}", summary="A cited passage, the quote located in it")
def citation(debate_id: str, turn: int, n: int, user: CurrentUser, state: StateDep) -> dict[str, Any]:
    record = readable_debate(state, user, debate_id)
    detail = citation_detail(state, record, turn, n)
    if detail is None:
        raise NotFound
    return detail


@router.get("/debates/{debate_id}/scorecards", summary="The judge's scorecard of each student speech")
async def debate_scorecards(debate_id: str, user: CurrentUser, state: StateDep) -> list[dict[str, Any]]:
    record = readable_debate(state, user, debate_id)
    if not scorecards.available():
        raise NotFound
    cards = await state.scorecards.for_debate(record, state.debates.turns(record.id))
    return [c.to_dict() for c in cards]


@router.get("/debates/{debate_id}/export", summary="The debate as Markdown, JSON or HTML")
def export(
    request: Request,
    debate_id: str,
    user: CurrentUser,
    state: StateDep,
    format: Annotated[Literal["md", "json", "html"], Query()] = "md",
) -> Response:
    return export_response(request, readable_debate(state, user, debate_id), state, format)


# -- teachers: motions ----------------------------------------------------------------------------
@router.post("/motions", status_code=201, summary="Add a motion (teachers)")
def add_motion(body: MotionIn, user: TeacherUser, state: StateDep) -> Any:
    if not state.rt.index.has_kb(body.kb):
        return _error(400, "unknown_kb")
    m = state.accounts.create_motion(
        text=body.text,
        lang=body.lang,
        text_en=body.text_en,
        summary=body.summary,
        kb=body.kb,
        created_by=user.id,
    )
    found = find_motion(state.accounts, m.id)
    assert found is not None
    return JSONResponse(found.to_dict(), status_code=201)


@router.put("/motions/{motion_id}", summary="Edit a motion (teachers)")
def edit_motion(motion_id: str, body: MotionIn, user: TeacherUser, state: StateDep) -> Any:
    if state.accounts.get_motion(motion_id) is None:
        raise NotFound
    if not state.rt.index.has_kb(body.kb):
        return _error(400, "unknown_kb")
    state.accounts.update_motion(
        motion_id=motion_id,
        text=body.text,
        lang=body.lang,
        text_en=body.text_en,
        summary=body.summary,
        kb=body.kb,
    )
    found = find_motion(state.accounts, motion_id)
    assert found is not None
    return found.to_dict()


# -- teachers: evidence -----------------------------------------------------------------------------
def _passage_json(p: Any, score: float | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": p.id,
        "kb": p.kb,
        "title": p.title,
        "source": display_source(p.source),
        "page": p.page,
        "section": p.section,
        "lang": p.lang,
        "stance": p.stance,
        "motion": p.motion,
        "text": p.text,
    }
    if score is not None:
        data["score"] = round(score, 6)
    return data


@router.get("/kbs", summary="Knowledge bases with counts (teachers)")
def list_kbs(user: TeacherUser, state: StateDep) -> list[dict[str, Any]]:
    return [i.__dict__ for i in state.rt.index.list_kbs()]


@router.get("/kbs/{kb}/search", summary="Search a knowledge base (teachers)")
def search(
    kb: str,
    user: TeacherUser,
    state: StateDep,
    q: Annotated[str, Query(min_length=1, max_length=300)],
    top_k: Annotated[int, Query(ge=1, le=100)] = 10,
    mode: Literal["hybrid", "lexical", "dense"] = "hybrid",
) -> list[dict[str, Any]]:
    if not state.rt.index.has_kb(kb):
        raise NotFound
    return [
        _passage_json(h.passage, h.score) for h in state.rt.retriever.search(q, [kb], top_k=top_k, mode=mode)
    ]


@router.get("/kbs/{kb}/passages", summary="Browse a knowledge base's passages (teachers)")
def passages(
    kb: str,
    user: TeacherUser,
    state: StateDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    stance: Literal["", "pro", "con", "neutral"] = "",
) -> dict[str, Any]:
    index = state.rt.index
    if not index.has_kb(kb):
        raise NotFound
    total, page = index.browse(kb, stance=stance or None, offset=offset, limit=limit)
    return {"total": total, "passages": [_passage_json(p) for p in page]}


@router.patch("/kbs/{kb}/passages", summary="Correct a passage's stance label (teachers)")
def correct_stance(kb: str, body: StanceIn, user: TeacherUser, state: StateDep) -> dict[str, Any]:
    index = state.rt.index
    if not index.set_labels(kb, body.passage_id, stance=body.stance, motion=body.motion):
        raise NotFound
    p = index.get(kb, body.passage_id)
    assert p is not None
    return _passage_json(p)


@router.post("/kbs/{kb}/upload", status_code=202, summary="Upload evidence files; returns an ingest job")
async def upload(
    kb: str, user: TeacherUser, state: StateDep, files: Annotated[list[UploadFile], File()]
) -> Any:
    try:
        job = await start_upload(state, user, kb, files)
    except CreateError as e:
        return _error(400, e.code)
    return JSONResponse(job.to_dict(), status_code=202)


@router.get("/ingest/{job_id}", summary="Progress and per-file errors of an upload (teachers)")
def ingest_job(job_id: str, user: TeacherUser, state: StateDep) -> dict[str, Any]:
    job = state.ingest.get(job_id)
    if job is None or (job.owner_id != user.id and user.role != "admin"):
        raise NotFound
    return job.to_dict()


# -- teachers: classes ------------------------------------------------------------------------------
@router.get("/classes", summary="Your classes (teachers)")
def classes(user: TeacherUser, state: StateDep) -> list[dict[str, Any]]:
    return [
        {
            "id": c.id,
            "name": c.name,
            "students": [{"id": s.id, "name": s.name} for s in state.accounts.members(c.id)],
        }
        for c in my_classes(state, user)
    ]


@router.post("/classes", status_code=201, summary="Create a class (teachers)")
def new_class(body: ClassIn, user: TeacherUser, state: StateDep) -> Any:
    try:
        c = state.accounts.create_class(name=body.name, teacher_id=user.id)
    except AccountError:
        return _error(409, "class_exists")
    return JSONResponse({"id": c.id, "name": c.name, "students": []}, status_code=201)


@router.post("/classes/{class_id}/students", summary="Add an existing student to your class (teachers)")
def add_member(class_id: int, body: MemberIn, user: TeacherUser, state: StateDep) -> Any:
    classroom = my_class(state, user, class_id)
    student = state.accounts.get_user_by_name(body.name.strip())
    if student is None or student.role != "student":
        return _error(404, "no_such_student")
    state.accounts.add_member(class_id=classroom.id, user_id=student.id)
    return {"id": classroom.id, "name": classroom.name, "student": {"id": student.id, "name": student.name}}


@router.get(
    "/classes/{class_id}/results", summary="A class's debates and results (teachers; CSV with ?format=csv)"
)
def results(
    class_id: int, user: TeacherUser, state: StateDep, format: Literal["json", "csv"] = "json"
) -> Any:
    classroom = my_class(state, user, class_id)
    rows = class_results(state, classroom)
    if format == "csv":
        return Response("\ufeff" + results_csv(classroom, rows), media_type="text/csv; charset=utf-8")
    return [
        {
            "student": r.student.name,
            "debate_id": r.record.id,
            "created_at": r.record.created_at,
            "motion": r.record.motion_text,
            "format": r.record.format,
            "student_side": r.record.student_side.value,
            "status": r.record.status,
            "turns": r.turns,
            "student_words": r.words,
            "student_claims": r.claims,
            "student_dropped": r.dropped,
            "banron_citations": r.citations,
        }
        for r in rows
    ]
