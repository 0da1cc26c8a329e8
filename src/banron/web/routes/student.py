"""Student pages: start a debate, debate it (the page's script streams banron), history, export."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import HTMLResponse, Response

from banron.debate.flow import Flow
from banron.debate.formats import formats
from banron.debate.transcript import to_json, to_markdown
from banron.domain import Side
from banron.store.accounts import User
from banron.store.sqlite import DebateRecord
from banron.web import scorecards
from banron.web.auth import CurrentUser, NotFound, StateDep, can_review_student, owner_key, readable_debate
from banron.web.debates import debate_payload
from banron.web.motions import all_motions
from banron.web.render import env, page, translator
from banron.web.routes.common import see_other
from banron.web.routes.pages import flash
from banron.web.services import CreateError, create_debate
from banron.web.state import WebState

router = APIRouter(include_in_schema=False)
CREATE_ERRORS = frozenset({"unknown_motion", "unknown_format", "bad_side", "bad_lang", "empty_kb", "bad_kb"})


def history(state: WebState, student: User) -> list[dict[str, Any]]:
    """A student's debates, newest first, with what the flow says about each (progress over time)."""
    out = []
    for record, n_turns in state.debates.list_debates(owner=owner_key(student)):
        turns = state.debates.turns(record.id)
        flow = Flow.from_turns(turns)
        dropped = flow.dropped()
        mine = [e for e in flow.entries if e.side is record.student_side]
        out.append(
            {
                "record": record,
                "turns": n_turns,
                "claims": len(mine),
                "dropped": sum(1 for e in dropped if e.side is record.student_side),
                "answered": sum(1 for e in mine if e.claim.answers),
                "format": formats().get(record.format),
            }
        )
    return out


@router.get("/debates")
def debates_home(request: Request, user: CurrentUser, state: StateDep) -> Response:
    return page(
        request,
        "student/home.html",
        motions=all_motions(state.accounts),
        history=history(state, user),
        history_owner=user,
        judge=scorecards.available(),
        flash=flash(request),
        error=error if (error := request.query_params.get("error")) in CREATE_ERRORS else None,
    )


@router.post("/debates")
async def start_debate(
    request: Request,
    user: CurrentUser,
    state: StateDep,
    motion_id: Annotated[str, Form(max_length=200)],
    format_id: Annotated[str, Form(alias="format", max_length=40)],
    side: Annotated[str, Form(max_length=8)],
    lang: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    try:
        record = await create_debate(
            state, user, motion_id=motion_id, format_id=format_id, side=side, lang=lang
        )
    except CreateError as e:
        return see_other("/debates", error=e.code)
    return see_other(f"/debates/{record.id}")


@router.get("/debates/{debate_id}")
def debate_page(request: Request, debate_id: str, user: CurrentUser, state: StateDep) -> Response:
    record = readable_debate(state, user, debate_id)
    turns = state.debates.turns(record.id)
    payload = debate_payload(record, turns)
    owner = state.accounts.get_user(int(record.owner)) if record.owner and record.owner.isdigit() else None
    return page(
        request,
        "student/debate.html",
        record=record,
        payload=payload,
        fmt=formats().get(record.format),
        can_speak=record.owner == owner_key(user),
        owner=owner,
        sides=Side,
        judge=scorecards.available(),
        flash=flash(request),
    )


@router.post("/debates/{debate_id}/end")
async def end_debate(request: Request, debate_id: str, user: CurrentUser, state: StateDep) -> Response:
    from banron.web.auth import own_debate

    own_debate(state, user, debate_id)
    await state.engine.end(debate_id)
    return see_other(f"/debates/{debate_id}", msg="ended")


def export_response(request: Request, record: DebateRecord, state: WebState, fmt: str) -> Response:
    turns = state.debates.turns(record.id)
    name = f"banron-{record.id}"
    if fmt == "md":
        body, media = to_markdown(record, record.motion_text, turns), "text/markdown; charset=utf-8"
    elif fmt == "json":
        body = json.dumps(to_json(record, turns), ensure_ascii=False, indent=2)
        media = "application/json"
    elif fmt == "html":
        t = translator(request)
        css = (files("banron.web") / "static" / "export.css").read_text(encoding="utf-8")
        body = env.get_template("export.html").render(
            t=t,
            lang=t.lang,
            record=record,
            payload=debate_payload(record, turns),
            css=css,
            fmt=formats().get(record.format),
        )
        media = "text/html; charset=utf-8"
    else:
        raise NotFound
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    )


@router.get("/debates/{debate_id}/export.{fmt}")
def export_debate(request: Request, debate_id: str, fmt: str, user: CurrentUser, state: StateDep) -> Response:
    return export_response(request, readable_debate(state, user, debate_id), state, fmt)


# The judge's report is a page of its own: inline styles and SVG charts, and no script at all.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)


def _report(body: str, name: str, download: bool) -> Response:
    headers = {"Content-Security-Policy": REPORT_CSP}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="{name}.html"'
    return HTMLResponse(body, headers=headers)


@router.get("/debates/{debate_id}/scorecard")
async def scorecard_page(request: Request, debate_id: str, user: CurrentUser, state: StateDep) -> Response:
    record = readable_debate(state, user, debate_id)
    if not scorecards.available():
        return page(request, "student/scorecard.html", record=record, cards=None)
    turns = state.debates.turns(record.id)
    cards = await state.scorecards.for_debate(record, turns)
    lang = translator(request).lang
    rb = scorecards.rubric_for(record.format)
    views = [scorecards.card_view(c, rb, lang) for c in cards]
    verdict = await state.scorecards.verdict(record, turns, lang)
    return page(
        request, "student/scorecard.html", record=record, cards=views, rubric=rb.name(lang), verdict=verdict
    )


@router.get("/debates/{debate_id}/scorecard/report")
async def scorecard_report(
    request: Request, debate_id: str, user: CurrentUser, state: StateDep, download: bool = False
) -> Response:
    record = readable_debate(state, user, debate_id)
    if not scorecards.available():
        raise NotFound
    cards = await state.scorecards.for_debate(record, state.debates.turns(record.id))
    t = translator(request)
    body = scorecards.report_html(cards, record.format, t.lang, record.motion_text)
    return _report(body, f"banron-{record.id}-scorecard", download)


@router.get("/students/{student_id}/progress")
async def progress_report(
    request: Request, student_id: int, user: CurrentUser, state: StateDep, download: bool = False
) -> Response:
    """Scores over time across a student's debates (the judge's report with its progress chart)."""
    student = state.accounts.get_user(student_id)
    if student is None or not can_review_student(state, user, student) or not scorecards.available():
        raise NotFound
    debates = [
        (r, state.debates.turns(r.id)) for r, _ in state.debates.list_debates(owner=owner_key(student))
    ]
    cards = await state.scorecards.for_student(debates)
    t = translator(request)
    body = scorecards.report_html(cards, "free", t.lang, t("history.progress_title", name=student.name))
    return _report(body, f"banron-{student.name}-progress", download)


@router.get("/students/{student_id}")
def student_page(request: Request, student_id: int, user: CurrentUser, state: StateDep) -> Response:
    """One student's debates, for the student, their teachers and admins."""
    student = state.accounts.get_user(student_id)
    if student is None or not can_review_student(state, user, student):
        raise NotFound
    return page(
        request,
        "student/history.html",
        student=student,
        history=history(state, student),
        history_owner=student,
        judge=scorecards.available(),
    )
