"""Teachers: motions that students can debate, evidence uploads with progress and per-file errors,
search, stance corrections, classes and their results as CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from fastapi import FastAPI
from web_helpers import UNIFORMS, Session, login, minimal_pdf, wait_job


@pytest.fixture(scope="module")
def teacher(web: tuple[FastAPI, Any]) -> Session:
    return login(web[0], "teacher")


HTML = (
    b"<html><head><title>Uniform page</title></head><body><article>"
    b"<p>Uniform rules vary by school district and region.</p></article></body></html>"
)


@pytest.fixture(scope="module")
def uploaded(teacher: Session) -> dict[str, Any]:
    pdf = minimal_pdf(
        [["School uniforms cost families more than two hundred dollars a year.", "Parents find it hard."],
         ["Dress codes can be enforced without uniforms."]],
        title="Uniform costs survey",
    )  # fmt: skip
    jsonl = "\n".join(json.dumps(u, ensure_ascii=False) for u in UNIFORMS).encode()
    notes = "# 교복 토론 메모\n\n교복 자율화 이후 등교 시간의 복장 지도가 줄었다.".encode()
    files = [
        ("files", ("survey.pdf", pdf, "application/pdf")),
        ("files", ("uniforms.jsonl", jsonl, "text/plain")),
        ("files", ("notes.md", notes, "text/markdown")),
        ("files", ("page.html", HTML, "text/html")),
        ("files", ("plain.txt", "교복 물려주기 장터가 여러 학교에서 열린다.".encode(), "text/plain")),
        ("files", ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "application/pdf")),
        ("files", ("virus.exe", b"MZ....", "application/octet-stream")),
    ]  # fmt: skip
    r = teacher.api("POST", "/api/kbs/uniforms/upload", files=files)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] in ("queued", "running", "done")
    return wait_job(teacher, job["id"])


def test_upload_reports_progress_and_each_unreadable_file(uploaded: dict[str, Any]) -> None:
    job = uploaded
    assert job["status"] == "done"
    assert job["total"] and job["done"] == job["total"]
    failed = {e["file"]: e["message"] for e in job["errors"]}
    assert set(failed) == {"broken.pdf", "virus.exe"}
    assert "unsupported" in failed["virus.exe"]
    assert "/" not in failed["broken.pdf"].split(":")[0]  # no server paths in messages
    assert job["report"]["documents_added"] >= 5


def test_an_uploaded_pdf_is_found_by_search(teacher: Session, uploaded: dict[str, Any]) -> None:
    hits = teacher.client.get("/api/kbs/uniforms/search", params={"q": "how much do uniforms cost"}).json()
    top = hits[0]
    assert top["title"] == "Uniform costs survey" and top["source"] == "survey.pdf" and top["page"] == 1
    html = teacher.client.get("/teacher/kb/uniforms", params={"q": "uniform cost"}).text
    assert "Uniform costs survey" in html and "survey.pdf" in html
    # Korean, with particles, finds the Korean passage.
    hits = teacher.client.get("/api/kbs/uniforms/search", params={"q": "교복은 가격이 비싸다"}).json()
    assert any(h["id"] == "u1" for h in hits[:3])


def test_reuploading_the_same_file_replaces_it(teacher: Session, uploaded: dict[str, Any]) -> None:
    files = [("files", ("plain.txt", "교복 물려주기 장터는 환경에도 좋다.".encode(), "text/plain"))]
    job = wait_job(teacher, teacher.api("POST", "/api/kbs/uniforms/upload", files=files).json()["id"])
    assert job["report"]["documents_updated"] == 1 and job["report"]["documents_added"] == 0


def test_upload_form_without_javascript(teacher: Session) -> None:
    r = teacher.client.post(
        "/teacher/kb/upload",
        data={"kb": "formkb", "csrf_token": teacher.csrf},
        files=[("files", ("a.txt", "급식 잔반을 줄이는 방법".encode(), "text/plain"))],
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/teacher/kb/jobs/")
    job_id = r.headers["location"].rsplit("/", 1)[1]
    wait_job(teacher, job_id)
    page = teacher.client.get(r.headers["location"]).text
    assert "<progress" in page and 'href="/teacher/kb/formkb"' in page
    bad = teacher.client.post(
        "/teacher/kb/upload",
        data={"kb": "bundled", "csrf_token": teacher.csrf},
        files=[("files", ("a.txt", b"x", "text/plain"))],
        follow_redirects=False,
    )
    assert bad.headers["location"] == "/teacher/kb?error=bad_kb"
    assert teacher.api(
        "POST", "/api/kbs/..%2Fetc/upload", files=[("files", ("a.txt", b"x", "text/plain"))]
    ).status_code in (400, 404)


def test_stances_are_browsed_and_corrected(teacher: Session, uploaded: dict[str, Any]) -> None:
    listing = teacher.client.get("/api/kbs/uniforms/passages", params={"stance": "pro"}).json()
    assert [p["id"] for p in listing["passages"]] == ["u1"]
    r = teacher.api(
        "PATCH", "/api/kbs/uniforms/passages", json={"passage_id": "u3", "stance": "pro", "motion": "m-x"}
    )
    assert r.status_code == 200 and r.json()["stance"] == "pro" and r.json()["motion"] == "m-x"
    r = teacher.post_form(
        "/teacher/kb/uniforms/stance", {"passage_id": "u3", "stance": "neutral", "motion": ""}
    )
    assert r.status_code == 303  # type: ignore[attr-defined]
    pros = teacher.client.get("/api/kbs/uniforms/passages", params={"stance": "neutral"}).json()["passages"]
    assert "u3" in {p["id"] for p in pros}
    page = teacher.client.get("/teacher/kb/uniforms", params={"stance": "con"}).text
    assert "교복과 소속감" in page and "교복 비용" not in page
    missing = teacher.api("PATCH", "/api/kbs/uniforms/passages", json={"passage_id": "nope", "stance": "pro"})
    assert missing.status_code == 404


def test_a_teacher_motion_is_debated_on_its_knowledge_base(
    web: tuple[FastAPI, Any], teacher: Session, uploaded: dict[str, Any]
) -> None:
    r = teacher.post_form(
        "/teacher/motions",
        {"text": "교복을 폐지해야 한다", "lang": "ko", "kb": "uniforms", "text_en": "Abolish uniforms"},
    )
    assert r.status_code == 303  # type: ignore[attr-defined]
    motion = next(m for m in teacher.client.get("/api/motions").json() if m["text"] == "교복을 폐지해야 한다")
    assert motion["kb"] == "uniforms" and not motion["bundled"]
    # Label the passages for this motion, as a teacher would in the stance editor.
    for pid, stance in (("u1", "pro"), ("u2", "con"), ("u3", "con")):
        teacher.api(
            "PATCH",
            "/api/kbs/uniforms/passages",
            json={"passage_id": pid, "stance": stance, "motion": motion["id"]},
        )
    # The edit form changes it.
    r = teacher.post_form(
        f"/teacher/motions/{motion['id']}",
        {"text": "교복 착용 의무를 폐지해야 한다", "lang": "ko", "kb": "uniforms"},
    )
    assert r.status_code == 303  # type: ignore[attr-defined]
    alice = login(web[0], "alice")
    assert "교복 착용 의무를 폐지해야 한다" in alice.client.get("/debates").text
    r = alice.post_form("/debates", {"motion_id": motion["id"], "format": "free", "side": "pro"})
    did = r.headers["location"].rsplit("/", 1)[1]  # type: ignore[attr-defined]
    speech = "교복은 너무 비싸서 가정에 부담이 됩니다. 교복을 폐지하면 학생들이 개성을 표현할 수 있습니다."
    assert alice.api("POST", f"/api/debates/{did}/turns", json={"text": speech}).status_code == 201
    alice.api("POST", f"/api/debates/{did}/speak")
    turn = alice.client.get(f"/api/debates/{did}").json()["turns"][1]
    assert turn["citations"] and {c["kb"] for c in turn["citations"]} == {"uniforms"}
    assert {c["passage_id"] for c in turn["citations"]} <= {"u2", "u3"}  # banron argues con: con passages
    # Bad motion forms say why.
    r = teacher.post_form("/teacher/motions", {"text": " ", "lang": "ko", "kb": "uniforms"})
    assert r.status_code == 400  # type: ignore[attr-defined]
    r = teacher.post_form("/teacher/motions", {"text": "x", "lang": "ko", "kb": "no-such-kb"})
    assert r.status_code == 400  # type: ignore[attr-defined]


def test_classes_students_and_results_csv(web: tuple[FastAPI, Any], teacher: Session) -> None:
    app, cast = web
    r = teacher.post_form("/teacher/classes", {"name": "토론반"})
    assert r.status_code == 303  # type: ignore[attr-defined]
    class_url = r.headers["location"].split("?")[0]  # type: ignore[attr-defined]
    class_id = int(class_url.rsplit("/", 1)[1])
    # A new student is made with a first password; an existing one is just added.
    r = teacher.post_form(f"{class_url}/students", {"name": "@dana", "password": "first password"})
    assert r.status_code == 303  # type: ignore[attr-defined]
    r = teacher.post_form(f"{class_url}/students", {"name": "bob"})
    assert r.status_code == 303  # type: ignore[attr-defined]
    r = teacher.post_form(f"{class_url}/students", {"name": "teacher2"})
    assert r.status_code == 400  # type: ignore[attr-defined]
    r = teacher.post_form(f"{class_url}/students", {"name": "newbie"})  # no password for a new student
    assert r.status_code == 400  # type: ignore[attr-defined]
    dana = login(app, "@dana", "first password")
    r = dana.post_form("/debates", {"motion_id": "ai-homework", "format": "free", "side": "con"})
    did = r.headers["location"].rsplit("/", 1)[1]  # type: ignore[attr-defined]
    dana.api(
        "POST",
        f"/api/debates/{did}/turns",
        json={"text": "AI로 숙제를 하면 스스로 생각하는 힘이 줄어듭니다."},
    )
    page = teacher.client.get(class_url).text
    assert "@dana" in page and f"/debates/{did}" in page
    r = teacher.client.get(f"{class_url}/results.csv")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    row = next(x for x in rows if x["debate_id"] == did)
    assert row["student"] == "'@dana"  # a formula-looking cell is quoted as text
    assert row["class"] == "토론반" and row["turns"] == "1" and int(row["student_words"]) > 3
    api = teacher.client.get(f"/api/classes/{class_id}/results").json()
    assert did in {x["debate_id"] for x in api}
    # Another teacher's class stays closed.
    assert teacher.client.get(f"/teacher/classes/{cast.class_b.id}").status_code == 404
    other = login(app, "teacher2")
    assert other.client.get(f"{class_url}/results.csv").status_code == 404
    assert other.client.get(f"/debates/{did}").status_code == 404


def test_teacher_pages_render(teacher: Session, uploaded: dict[str, Any]) -> None:
    for url in (
        "/teacher",
        "/teacher/motions",
        "/teacher/kb",
        "/teacher/kb/uniforms",
        "/teacher/classes",
        "/teacher/kb/bundled",
    ):
        r = teacher.client.get(url)
        assert r.status_code == 200, url
        assert "<h1>" in r.text
