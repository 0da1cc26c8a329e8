"""A student can never read another student's debates: every route of the app, checked.

The routes are enumerated from the app itself. Each must be classified in ``ROUTES`` below (a new
route fails the first test until someone decides who may use it), and every one of them is then
called as other users (a classmate, a student of another class, a teacher of another class) with
path parameters pointing at alice's debate: none may answer with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.routing import BaseRoute, Mount
from web_helpers import Session, login

SECRET = "비밀표식ZQX7 학교에서 스마트폰을 금지하면 수업 집중도가 높아집니다."

# Who may use each route. debate: about one debate (its owner, the owner's teachers, admins);
# self: the signed-in user's own data; student: a student's data (teachers of the class, admins);
# teacher / admin: role-only; public: no account needed.
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/"): "public",
    ("GET", "/login"): "public",
    ("POST", "/login"): "public",
    ("POST", "/logout"): "self",
    ("POST", "/locale"): "public",
    ("GET", "/account"): "self",
    ("POST", "/account/password"): "self",
    ("POST", "/account/token"): "self",
    ("GET", "/admin/users"): "admin",
    ("POST", "/admin/users"): "admin",
    ("GET", "/debates"): "self",
    ("POST", "/debates"): "self",
    ("GET", "/debates/{debate_id}"): "debate",
    ("POST", "/debates/{debate_id}/end"): "debate",
    ("GET", "/debates/{debate_id}/export.{fmt}"): "debate",
    ("GET", "/debates/{debate_id}/scorecard"): "debate",
    ("GET", "/debates/{debate_id}/scorecard/report"): "debate",
    ("GET", "/students/{student_id}/progress"): "student",
    ("GET", "/students/{student_id}"): "student",
    ("GET", "/teacher"): "teacher",
    ("GET", "/teacher/motions"): "teacher",
    ("POST", "/teacher/motions"): "teacher",
    ("GET", "/teacher/motions/{motion_id}"): "teacher",
    ("POST", "/teacher/motions/{motion_id}"): "teacher",
    ("GET", "/teacher/kb"): "teacher",
    ("POST", "/teacher/kb/upload"): "teacher",
    ("GET", "/teacher/kb/jobs/{job_id}"): "teacher",
    ("GET", "/teacher/kb/{kb}"): "teacher",
    ("POST", "/teacher/kb/{kb}/stance"): "teacher",
    ("GET", "/teacher/classes"): "teacher",
    ("POST", "/teacher/classes"): "teacher",
    ("GET", "/teacher/classes/{class_id}"): "teacher",
    ("POST", "/teacher/classes/{class_id}/students"): "teacher",
    ("GET", "/teacher/classes/{class_id}/results.csv"): "teacher",
    ("GET", "/api/me"): "self",
    ("GET", "/api/motions"): "self",
    ("GET", "/api/formats"): "self",
    ("GET", "/api/debates"): "self",
    ("POST", "/api/debates"): "self",
    ("GET", "/api/debates/{debate_id}"): "debate",
    ("POST", "/api/debates/{debate_id}/turns"): "debate",
    ("POST", "/api/debates/{debate_id}/speak"): "debate",
    ("POST", "/api/debates/{debate_id}/draft"): "debate",
    ("GET", "/api/debates/{debate_id}/events"): "debate",
    ("POST", "/api/debates/{debate_id}/end"): "debate",
    ("GET", "/api/debates/{debate_id}/citations/{turn}/{n}"): "debate",
    ("GET", "/api/debates/{debate_id}/export"): "debate",
    ("GET", "/api/debates/{debate_id}/scorecards"): "debate",
    ("POST", "/api/motions"): "teacher",
    ("PUT", "/api/motions/{motion_id}"): "teacher",
    ("GET", "/api/kbs"): "teacher",
    ("GET", "/api/kbs/{kb}/search"): "teacher",
    ("GET", "/api/kbs/{kb}/passages"): "teacher",
    ("PATCH", "/api/kbs/{kb}/passages"): "teacher",
    ("POST", "/api/kbs/{kb}/upload"): "teacher",
    ("GET", "/api/ingest/{job_id}"): "teacher",
    ("GET", "/api/classes"): "teacher",
    ("POST", "/api/classes"): "teacher",
    ("POST", "/api/classes/{class_id}/students"): "teacher",
    ("GET", "/api/classes/{class_id}/results"): "teacher",
    ("GET", "/openapi.json"): "public",
    ("GET", "/docs"): "public",
    ("GET", "/docs/oauth2-redirect"): "public",
}
MOUNTS = {"/static", "/static-offline-docs"}  # files shipped with the package


def walk(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    for r in routes:
        inner = getattr(r, "original_router", None)  # newer FastAPI keeps included routers whole
        if inner is not None:
            yield from walk(inner.routes)
        else:
            yield r


def app_routes(app: FastAPI) -> list[tuple[str, str]]:
    out = []
    for r in walk(list(app.routes)):
        if isinstance(r, Mount):
            assert r.path in MOUNTS, f"unclassified mount {r.path}"
            continue
        for method in sorted(getattr(r, "methods", None) or []):
            if method != "HEAD":
                out.append((method, getattr(r, "path", "")))
    return out


@pytest.fixture(scope="module")
def world(web: tuple[FastAPI, Any]) -> dict[str, Any]:
    app, cast = web
    alice = login(app, "alice")
    r = alice.post_form("/debates", {"motion_id": "phone-ban", "format": "free", "side": "pro"})
    debate_id = r.headers["location"].rsplit("/", 1)[1]  # type: ignore[attr-defined]
    assert alice.api("POST", f"/api/debates/{debate_id}/turns", json={"text": SECRET}).status_code == 201
    assert "event: turn" in alice.api("POST", f"/api/debates/{debate_id}/speak").text
    teacher = login(app, "teacher")
    motion = teacher.api("POST", "/api/motions", json={"text": "교복을 폐지해야 한다", "lang": "ko"}).json()
    return {
        "app": app,
        "cast": cast,
        "debate_id": debate_id,
        "alice": alice,
        "params": {
            "debate_id": debate_id,
            "turn": "2",
            "n": "1",
            "fmt": "md",
            "student_id": str(cast.alice.id),
            "class_id": str(cast.class_a.id),
            "motion_id": motion["id"],
            "kb": "bundled",
            "job_id": "000000000000",
        },
    }


def fill(path: str, params: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: params[m.group(1)], path)


# Valid bodies, so that what refuses a request is the access check, not validation.
BODIES: dict[str, dict[str, Any]] = {
    "/turns": {"text": "끼어들기 발언입니다. 이 토론에 몰래 말합니다."},
    "/draft": {"text": "끼어들기 초안입니다. 몰래 읽힙니다."},
    "/api/debates": {"motion_id": "phone-ban", "side": "pro"},
    "/api/motions": {"text": "새 논제", "lang": "ko"},
    "/passages": {"passage_id": "x", "stance": "pro"},
    "/api/classes": {"name": "몰래 만든 반"},
    "/students": {"name": "alice"},
}


def call(s: Session, method: str, path: str) -> Any:
    if path.startswith("/api/"):
        body = next((v for k, v in BODIES.items() if path.endswith(k) or path.startswith(k + "/")), {})
        return s.api(method, path, json=body)
    if method == "GET":
        return s.client.get(path, follow_redirects=False)
    return s.post_form(path, {})


def test_every_route_is_classified(web: tuple[FastAPI, Any]) -> None:
    found = set(app_routes(web[0]))
    unclassified = sorted(found - set(ROUTES))
    assert not unclassified, (
        f"new routes: add them to ROUTES (and think about who may call them): {unclassified}"
    )
    gone = sorted(set(ROUTES) - found)
    assert not gone, f"routes in ROUTES that the app no longer has: {gone}"


@pytest.mark.parametrize("who", ["bob", "carol", "teacher2"])
def test_no_route_shows_alice_s_debate_to_others(world: dict[str, Any], who: str) -> None:
    """A classmate, a student of another class, a teacher of another class: never alice's debate."""
    app, debate_id = world["app"], world["debate_id"]
    other = login(app, who)
    leaks = []
    for method, path in app_routes(app):
        url = fill(path, world["params"])
        r = call(other, method, url)
        body = r.text if not r.headers.get("content-type", "").startswith("image") else ""
        if SECRET[:10] in body or debate_id in body.replace(url, ""):
            leaks.append((method, path, r.status_code))
        if ROUTES[(method, path)] in ("debate", "student"):
            assert r.status_code in (403, 404), (who, method, path, r.status_code)
        if path == "/logout":
            other = login(app, who)
    assert not leaks, f"{who} saw alice's debate through {leaks}"
    assert world["app"].state.banron.engine.job(debate_id) is None  # nobody made banron speak in it
    turns = world["app"].state.banron.debates.turns(debate_id)
    assert len(turns) == 2  # and nobody spoke in it


def test_students_are_refused_every_teacher_and_admin_route(world: dict[str, Any]) -> None:
    bob = login(world["app"], "bob")
    for (method, path), kind in ROUTES.items():
        if kind in ("teacher", "admin"):
            r = call(bob, method, fill(path, world["params"]))
            assert r.status_code in (403, 404, 422), (method, path, r.status_code)
            assert r.status_code != 422 or path.startswith("/api/"), (method, path)


def test_teachers_are_refused_admin_routes(world: dict[str, Any]) -> None:
    teacher = login(world["app"], "teacher")
    for (method, path), kind in ROUTES.items():
        if kind == "admin":
            assert call(teacher, method, fill(path, world["params"])).status_code == 403


def test_signed_out_visitors_get_nothing_but_the_public_routes(world: dict[str, Any]) -> None:
    from fastapi.testclient import TestClient

    client = TestClient(world["app"])
    for method, path in app_routes(world["app"]):
        kind = ROUTES[(method, path)]
        if kind == "public":
            continue
        url = fill(path, world["params"])
        r = client.request(method, url, follow_redirects=False, headers={"Accept": "text/html"})
        assert r.status_code in (303, 401, 403), (method, path, r.status_code)
        assert SECRET[:10] not in r.text


def test_the_owner_s_teacher_reviews_but_cannot_speak(world: dict[str, Any]) -> None:
    teacher = login(world["app"], "teacher")
    debate_id = world["debate_id"]
    assert teacher.client.get(f"/debates/{debate_id}").status_code == 200
    assert SECRET[:10] in teacher.client.get(f"/api/debates/{debate_id}").text
    assert teacher.client.get(f"/students/{world['cast'].alice.id}").status_code == 200
    assert (
        teacher.api("POST", f"/api/debates/{debate_id}/turns", json={"text": "끼어들기"}).status_code == 403
    )
    assert teacher.api("POST", f"/api/debates/{debate_id}/speak").status_code == 403
    page = teacher.client.get(f"/debates/{debate_id}").text
    assert 'id="speech-form"' not in page  # read-only view
    admin = login(world["app"], "admin")
    assert admin.client.get(f"/api/debates/{debate_id}").status_code == 200


def test_debate_lists_hold_only_one_s_own(world: dict[str, Any]) -> None:
    bob = login(world["app"], "bob")
    mine = bob.client.get("/api/debates").json()
    assert world["debate_id"] not in {d["id"] for d in mine} and SECRET[:10] not in str(mine)
    r = bob.client.get("/api/debates", params={"student_id": world["cast"].alice.id})
    assert r.status_code == 404
    teacher = login(world["app"], "teacher")
    r = teacher.client.get("/api/debates", params={"student_id": world["cast"].alice.id})
    assert world["debate_id"] in {d["id"] for d in r.json()}
