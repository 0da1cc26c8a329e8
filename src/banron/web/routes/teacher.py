"""Teacher pages: motions, evidence (upload, search, stance labels), classes and their results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.responses import Response

from banron import content
from banron.domain import STANCES
from banron.store.accounts import AccountError, ClassRoom, User
from banron.web.auth import NotFound, StateDep, TeacherUser
from banron.web.debates import display_source
from banron.web.motions import all_motions
from banron.web.passwords import PasswordError, hash_password
from banron.web.render import page
from banron.web.routes.common import see_other
from banron.web.routes.pages import flash
from banron.web.services import CreateError, class_results, results_csv, start_upload
from banron.web.state import WebState

router = APIRouter(prefix="/teacher", include_in_schema=False)
PAGE_SIZE = 25


def kb_names(state: WebState) -> list[str]:
    return [i.name for i in state.rt.index.list_kbs()]


@router.get("")
def dashboard(request: Request, user: TeacherUser, state: StateDep) -> Response:
    return page(
        request,
        "teacher/home.html",
        classes=my_classes(state, user),
        motions=state.accounts.list_motions(),
        kbs=state.rt.index.list_kbs(),
    )


# -- motions --------------------------------------------------------------------------------------
@router.get("/motions")
def motions_page(request: Request, user: TeacherUser, state: StateDep) -> Response:
    return page(
        request,
        "teacher/motions.html",
        motions=all_motions(state.accounts),
        kbs=kb_names(state),
        flash=flash(request),
        error=None,
        motion=None,
    )


def _motion_error(text: str, lang: str, kb: str, state: WebState) -> str | None:
    if not text.strip():
        return "motions.need_text"
    if lang not in ("ko", "en"):
        return "motions.bad_lang"
    if kb not in kb_names(state):
        return "motions.bad_kb"
    return None


@router.post("/motions")
def create_motion(
    request: Request,
    user: TeacherUser,
    state: StateDep,
    text: Annotated[str, Form(max_length=500)],
    lang: Annotated[str, Form()],
    kb: Annotated[str, Form()],
    text_en: Annotated[str, Form(max_length=500)] = "",
    summary: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    error = _motion_error(text, lang, kb, state)
    if error is None:
        state.accounts.create_motion(
            text=text,
            lang="en" if lang == "en" else "ko",
            text_en=text_en,
            summary=summary,
            kb=kb,
            created_by=user.id,
        )
        return see_other("/teacher/motions", msg="created")
    return page(
        request,
        "teacher/motions.html",
        400,
        motions=all_motions(state.accounts),
        kbs=kb_names(state),
        flash=None,
        error=error,
        motion=None,
    )


@router.get("/motions/{motion_id}")
def edit_motion_page(request: Request, motion_id: str, user: TeacherUser, state: StateDep) -> Response:
    motion = state.accounts.get_motion(motion_id)
    if motion is None:
        raise NotFound
    return page(request, "teacher/motion_edit.html", motion=motion, kbs=kb_names(state), error=None)


@router.post("/motions/{motion_id}")
def edit_motion(
    request: Request,
    motion_id: str,
    user: TeacherUser,
    state: StateDep,
    text: Annotated[str, Form(max_length=500)],
    lang: Annotated[str, Form()],
    kb: Annotated[str, Form()],
    text_en: Annotated[str, Form(max_length=500)] = "",
    summary: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    motion = state.accounts.get_motion(motion_id)
    if motion is None:
        raise NotFound
    error = _motion_error(text, lang, kb, state)
    if error is not None:
        return page(request, "teacher/motion_edit.html", 400, motion=motion, kbs=kb_names(state), error=error)
    state.accounts.update_motion(
        motion_id=motion_id,
        text=text,
        lang="en" if lang == "en" else "ko",
        text_en=text_en,
        summary=summary,
        kb=kb,
    )
    return see_other("/teacher/motions", msg="saved")


# -- evidence -------------------------------------------------------------------------------------
@router.get("/kb")
def kb_page(request: Request, user: TeacherUser, state: StateDep) -> Response:
    return page(
        request, "teacher/kb.html", kbs=state.rt.index.list_kbs(), error=request.query_params.get("error")
    )


@router.post("/kb/upload")
async def upload(
    request: Request,
    user: TeacherUser,
    state: StateDep,
    kb: Annotated[str, Form(max_length=40)],
    files: Annotated[list[UploadFile], File()],
) -> Response:
    try:
        job = await start_upload(state, user, kb.strip(), files)
    except CreateError as e:
        return see_other("/teacher/kb", error=e.code)
    return see_other(f"/teacher/kb/jobs/{job.id}")


@router.get("/kb/jobs/{job_id}")
def job_page(request: Request, job_id: str, user: TeacherUser, state: StateDep) -> Response:
    job = state.ingest.get(job_id)
    if job is None or (job.owner_id != user.id and user.role != "admin"):
        raise NotFound
    return page(request, "teacher/kb_job.html", job=job)


@router.get("/kb/{kb}")
def passages_page(
    request: Request,
    kb: str,
    user: TeacherUser,
    state: StateDep,
    q: str = "",
    stance: str = "",
    offset: int = 0,
) -> Response:
    index = state.rt.index
    if not index.has_kb(kb):
        raise NotFound
    if kb == content.BUNDLED_KB:
        state.engine.ready.result(timeout=120)
    q = q.strip()[:300]
    total = 0
    if q:
        hits = state.rt.retriever.search(q, [kb], top_k=20)
        passages = [h.passage for h in hits]
    else:
        wanted = stance if stance in STANCES else None
        total, passages = index.browse(kb, stance=wanted, offset=max(0, offset), limit=PAGE_SIZE)
        if offset >= total > 0:  # past the end (the list shrank): show the last passage's page
            offset = total - 1
            total, passages = index.browse(kb, stance=wanted, offset=offset, limit=PAGE_SIZE)
        offset = max(0, offset)
    return page(
        request,
        "teacher/kb_passages.html",
        kb=kb,
        q=q,
        stance=stance if stance in STANCES else "",
        passages=passages,
        total=total,
        offset=offset,
        page_size=PAGE_SIZE,
        stances=STANCES,
        motions=all_motions(state.accounts),
        display_source=display_source,
        flash=flash(request),
    )


@router.post("/kb/{kb}/stance")
def set_stance(
    request: Request,
    kb: str,
    user: TeacherUser,
    state: StateDep,
    passage_id: Annotated[str, Form(max_length=400)],
    stance: Annotated[str, Form()],
    motion: Annotated[str, Form(max_length=200)] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    if stance not in STANCES:
        raise NotFound
    if not state.rt.index.set_labels(kb, passage_id, stance=stance, motion=motion):
        raise NotFound
    target = back if back.startswith(f"/teacher/kb/{kb}") else f"/teacher/kb/{kb}"
    sep = "&" if "?" in target else "?"
    return see_other(f"{target}{sep}msg=stance_saved" if "msg=" not in target else target)


# -- classes --------------------------------------------------------------------------------------
def my_classes(state: WebState, user: User) -> list[ClassRoom]:
    return state.accounts.list_classes(None if user.role == "admin" else user.id)


def my_class(state: WebState, user: User, class_id: int) -> ClassRoom:
    classroom = state.accounts.get_class(class_id)
    if classroom is None or (user.role != "admin" and classroom.teacher_id != user.id):
        raise NotFound
    return classroom


@router.get("/classes")
def classes_page(request: Request, user: TeacherUser, state: StateDep) -> Response:
    return page(
        request, "teacher/classes.html", classes=my_classes(state, user), flash=flash(request), error=None
    )


@router.post("/classes")
def create_class(
    request: Request, user: TeacherUser, state: StateDep, name: Annotated[str, Form(max_length=80)]
) -> Response:
    try:
        classroom = state.accounts.create_class(name=name, teacher_id=user.id)
    except AccountError:
        return page(
            request,
            "teacher/classes.html",
            400,
            classes=my_classes(state, user),
            flash=None,
            error="classes.taken",
        )
    return see_other(f"/teacher/classes/{classroom.id}", msg="created")


def _class_page(
    request: Request, state: WebState, classroom: ClassRoom, status: int = 200, error: str | None = None
) -> Response:
    rows = class_results(state, classroom)
    return page(
        request,
        "teacher/class.html",
        status,
        classroom=classroom,
        members=state.accounts.members(classroom.id),
        rows=rows,
        flash=flash(request),
        error=error,
    )


@router.get("/classes/{class_id}")
def class_page(request: Request, class_id: int, user: TeacherUser, state: StateDep) -> Response:
    return _class_page(request, state, my_class(state, user, class_id))


@router.post("/classes/{class_id}/students")
def add_student(
    request: Request,
    class_id: int,
    user: TeacherUser,
    state: StateDep,
    name: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    classroom = my_class(state, user, class_id)
    name = name.strip()
    student = state.accounts.get_user_by_name(name)
    if student is None:
        if not password:
            return _class_page(request, state, classroom, 400, "classes.need_password")
        try:
            student = state.accounts.add_user(
                name=name, role="student", password_hash=hash_password(password)
            )
        except PasswordError:
            return _class_page(request, state, classroom, 400, "account.weak_password")
        except AccountError:
            return _class_page(request, state, classroom, 400, "admin.bad_name")
    elif student.role != "student":
        return _class_page(request, state, classroom, 400, "classes.not_student")
    state.accounts.add_member(class_id=classroom.id, user_id=student.id)
    return see_other(f"/teacher/classes/{classroom.id}", msg="student_added")


@router.get("/classes/{class_id}/results.csv")
def class_csv(class_id: int, user: TeacherUser, state: StateDep) -> Response:
    classroom = my_class(state, user, class_id)
    body = results_csv(classroom, class_results(state, classroom))
    return Response(
        "\ufeff" + body,  # a BOM so spreadsheet programs read Korean as UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="class-{classroom.id}-results.csv"'},
    )
