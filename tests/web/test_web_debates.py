"""A student's debate through the web app: start, speak, banron's streamed reply, evidence, flow, export."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi import FastAPI
from web_app import runtime_sharing
from web_helpers import Session, csrf_from, login, wait_job

from banron.web.debates import SpeechJob

SPEECH = (
    "학교에서 스마트폰을 금지하면 수업 집중도가 높아집니다. 알림 때문에 학생들이 자주 산만해집니다. "
    "또한 스마트폰 금지는 교내 사이버 폭력을 줄입니다."
)


def sse_events(text: str) -> list[tuple[str, Any]]:
    events = []
    for frame in text.split("\n\n"):
        event = next((line[6:].strip() for line in frame.splitlines() if line.startswith("event:")), None)
        data = "".join(line[5:].strip() for line in frame.splitlines() if line.startswith("data:"))
        if event:
            events.append((event, json.loads(data) if data else None))
    return events


def start(s: Session, motion: str = "phone-ban", fmt: str = "free", side: str = "pro", lang: str = "") -> str:
    r = s.post_form("/debates", {"motion_id": motion, "format": fmt, "side": side, "lang": lang})
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    loc: str = r.headers["location"]  # type: ignore[attr-defined]
    assert re.fullmatch(r"/debates/[0-9a-f]{12}", loc), loc
    return loc.rsplit("/", 1)[1]


@pytest.fixture(scope="module")
def alice(web: tuple[FastAPI, Any]) -> Session:
    return login(web[0], "alice")


@pytest.fixture(scope="module")
def one_exchange(alice: Session) -> dict[str, Any]:
    """alice argues once in free sparring; banron answers (the fake model: evidence templates)."""
    debate_id = start(alice)
    r = alice.api("POST", f"/api/debates/{debate_id}/turns", json={"text": SPEECH, "elapsed_s": 42.5})
    assert r.status_code == 201, r.text
    stream = alice.api("POST", f"/api/debates/{debate_id}/speak")
    assert stream.status_code == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    return {
        "id": debate_id,
        "student_turn": r.json(),
        "server_timing": r.headers.get("server-timing", ""),
        "events": sse_events(stream.text),
    }


def test_banron_streams_its_speech_in_pieces_then_the_stored_turn(one_exchange: dict[str, Any]) -> None:
    events = one_exchange["events"]
    kinds = [e for e, _ in events]
    assert kinds[-1] == "done" and "error" not in kinds
    pieces = [d["text"] for e, d in events if e == "piece"]
    turns = [d for e, d in events if e == "turn"]
    assert len(pieces) >= 3 and len(turns) == 1
    turn = turns[0]
    assert "".join(pieces).strip() == turn["text"]  # what streamed is what was stored
    assert turn["speaker"] == "banron" and turn["side"] == "con" and turn["citations"]
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", turn["text"])}
    assert cited == {c["n"] for c in turn["citations"]}
    assert kinds.index("turn") > max(i for i, k in enumerate(kinds) if k == "piece")


def test_a_submit_says_how_long_it_queued_and_worked(one_exchange: dict[str, Any]) -> None:
    """Server-Timing on the student's turn: the load benchmark reads it, as do browsers' dev tools."""
    timing = dict(re.findall(r"(\w+);dur=([0-9.]+)", one_exchange["server_timing"]))
    assert set(timing) == {"queued", "worked"}, one_exchange["server_timing"]
    assert float(timing["worked"]) > 0.0  # the turn was extracted, linked and committed: it took time


def test_the_debate_state_has_timeline_slot_turns_and_flow(
    alice: Session, one_exchange: dict[str, Any]
) -> None:
    state = alice.client.get(f"/api/debates/{one_exchange['id']}").json()
    assert [t["speaker"] for t in state["turns"]] == ["student", "banron"]
    assert state["slot"]["speaker"] == "student" and state["slot"]["phase"] == "argument"
    assert state["slot"]["time_s"] > 0 and state["slot"]["words"] > 0
    assert [p["state"] for p in state["timeline"]] == ["current", "upcoming"]  # round 2 of free sparring
    assert state["flow"]["columns"] and state["flow"]["rows"]
    student_claims = [c for row in state["flow"]["rows"] for cell in row for c in cell if c["side"] == "pro"]
    assert student_claims and all(c["id"].startswith("t1c") for c in student_claims)


def test_citations_open_the_passage_with_the_quote_located(
    alice: Session, one_exchange: dict[str, Any]
) -> None:
    turn = next(d for e, d in one_exchange["events"] if e == "turn")
    for c in turn["citations"]:
        detail = alice.client.get(
            f"/api/debates/{one_exchange['id']}/citations/{turn['turn']}/{c['n']}"
        ).json()
        assert detail["title"] and detail["source"] and detail["text"]
        a, b = detail["highlight"]
        assert detail["text"][a:b] == detail["quote"] == c["quote"]
    assert alice.client.get(f"/api/debates/{one_exchange['id']}/citations/2/99").status_code == 404


def test_the_debate_page_renders_turns_with_citation_buttons_and_the_flow(
    alice: Session, one_exchange: dict[str, Any]
) -> None:
    html = alice.client.get(f"/debates/{one_exchange['id']}").text
    assert 'class="cite"' in html and 'id="timeline"' in html and 'class="flow"' in html
    assert 'id="speech-form"' in html and 'role="timer"' in html
    assert "학교에서 스마트폰을 금지하면" in html


def test_exports_in_three_formats(alice: Session, one_exchange: dict[str, Any]) -> None:
    did = one_exchange["id"]
    md = alice.client.get(f"/debates/{did}/export.md")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert "attachment" in md.headers["content-disposition"] and SPEECH[:20] in md.text
    data = alice.client.get(f"/debates/{did}/export.json").json()
    assert data["id"] == did and len(data["turns"]) == 2 and data["flow"]["speeches"]
    html = alice.client.get(f"/debates/{did}/export.html")
    assert html.headers["content-type"].startswith("text/html") and "<style>" in html.text
    api = alice.client.get(f"/api/debates/{did}/export", params={"format": "json"})
    assert api.json()["id"] == did
    assert alice.client.get(f"/debates/{did}/export.pdf").status_code == 404


def test_elapsed_time_reaches_the_engine_and_an_overrun_is_warned(alice: Session) -> None:
    did = start(alice, fmt="drill")
    state = alice.client.get(f"/api/debates/{did}").json()
    if state["slot"]["speaker"] == "banron":
        alice.api("POST", f"/api/debates/{did}/speak")
        state = alice.client.get(f"/api/debates/{did}").json()
    limit = state["slot"]["time_s"]
    r = alice.api("POST", f"/api/debates/{did}/turns", json={"text": SPEECH, "elapsed_s": limit * 3})
    assert r.status_code == 201 and r.json()["warnings"]


def test_turn_order_is_enforced(alice: Session) -> None:
    did = start(alice)
    assert alice.api("POST", f"/api/debates/{did}/turns", json={"text": SPEECH}).status_code == 201
    again = alice.api("POST", f"/api/debates/{did}/turns", json={"text": SPEECH})
    assert again.status_code == 409 and again.json()["code"] == "not_your_turn"
    assert alice.api("POST", f"/api/debates/{did}/turns", json={"text": ""}).status_code == 422


def test_ending_a_free_debate(alice: Session) -> None:
    did = start(alice)
    r = alice.post_form(f"/debates/{did}/end", {})
    assert r.status_code == 303  # type: ignore[attr-defined]
    state = alice.client.get(f"/api/debates/{did}").json()
    assert state["status"] == "finished" and state["slot"] is None
    assert alice.api("POST", f"/api/debates/{did}/turns", json={"text": SPEECH}).status_code == 409


def test_a_ceda_debate_where_banron_speaks_first(alice: Session) -> None:
    did = start(alice, fmt="ceda", side="con")  # pro constructive is banron's
    state = alice.client.get(f"/api/debates/{did}").json()
    assert state["slot"]["speaker"] == "banron"
    events = sse_events(alice.api("POST", f"/api/debates/{did}/speak").text)
    assert [e for e, _ in events].count("turn") == 1
    state = alice.client.get(f"/api/debates/{did}").json()
    assert state["slot"]["speaker"] == "student" and state["slot"]["kind"] == "cross_examination"
    assert state["timeline"][0]["state"] == "done" and state["timeline"][1]["state"] == "current"


def test_bad_choices_are_refused_with_a_reason(alice: Session) -> None:
    for data, code in [
        ({"motion_id": "nope", "format": "free", "side": "pro"}, "unknown_motion"),
        ({"motion_id": "phone-ban", "format": "nope", "side": "pro"}, "unknown_format"),
        ({"motion_id": "phone-ban", "format": "free", "side": "maybe"}, "bad_side"),
    ]:
        r = alice.post_form("/debates", data)
        assert r.headers["location"] == f"/debates?error={code}"  # type: ignore[attr-defined]
        assert alice.client.get(r.headers["location"]).status_code == 200  # type: ignore[attr-defined]
    r = alice.api("POST", "/api/debates", json={"motion_id": "nope", "side": "pro"})
    assert r.status_code == 400 and r.json()["code"] == "unknown_motion"
    r = alice.api("POST", "/api/debates", json={"motion_id": "phone-ban", "side": "pro", "format": "drill"})
    assert r.status_code == 201 and r.json()["format"] == "drill"


def test_a_speech_job_replays_to_late_readers() -> None:
    import asyncio

    async def run() -> list[str]:
        job = SpeechJob("x")
        job.add("piece", {"text": "a "})
        job.add("piece", {"text": "b"})
        reader = job.stream()
        first = await reader.__anext__()
        job.add("done", {})
        rest = [chunk async for chunk in reader]
        return [first, *rest]

    out = asyncio.run(run())
    assert [e for e, _ in sse_events("".join(out))] == ["piece", "piece", "done"]


def test_history_lists_the_students_debates(alice: Session, one_exchange: dict[str, Any]) -> None:
    html = alice.client.get("/debates").text
    assert f"/debates/{one_exchange['id']}" in html
    mine = alice.client.get("/api/debates").json()
    assert one_exchange["id"] in {d["id"] for d in mine}


def test_student_input_and_document_titles_render_inert(web: tuple[FastAPI, Any], alice: Session) -> None:
    app, _ = web
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)> {{ 7*7 }}'
    did = start(alice)
    assert (
        alice.api("POST", f"/api/debates/{did}/turns", json={"text": f"{evil}\n\n{SPEECH}"}).status_code
        == 201
    )
    page = alice.client.get(f"/debates/{did}").text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page or "&lt;script&gt;alert(" in page
    assert "{{ 7*7 }}" in page and "49" not in page.split("{{ 7*7 }}")[0][-5:]
    for fmt in ("html",):
        exported = alice.client.get(f"/debates/{did}/export.{fmt}").text
        assert "<script>alert" not in exported and "&lt;script&gt;" in exported
    # A document whose title is markup: search results and the passage list show it as text.
    teacher = login(app, "teacher")
    line = json.dumps(
        {"id": "x1", "title": "<img src=x onerror=alert(2)>제목", "text": "교복 가격은 비싸다."}
    )
    r = teacher.api(
        "POST", "/api/kbs/inert/upload", files=[("files", ("evil.jsonl", line.encode(), "text/plain"))]
    )
    assert r.status_code == 202
    wait_job(teacher, r.json()["id"])
    listing = teacher.client.get("/teacher/kb/inert").text
    assert "<img src=x onerror" not in listing and "&lt;img src=x onerror=alert(2)&gt;제목" in listing
    # Markup the page scripts receive is inserted as text (debate.js never assigns innerHTML).
    from importlib.resources import files

    for script in ("debate.js", "upload.js", "common.js"):
        source = (files("banron.web") / "static" / script).read_text(encoding="utf-8")
        assert (
            "innerHTML" not in source
            and "insertAdjacentHTML" not in source
            and "document.write" not in source
        )


def test_csrf_token_is_in_every_form(alice: Session, one_exchange: dict[str, Any]) -> None:
    for url in ("/debates", f"/debates/{one_exchange['id']}", "/account"):
        html = alice.client.get(url).text
        forms = re.findall(r"<form\b[^>]*>(.*?)</form>", html, flags=re.S)
        posts = [f for f in re.findall(r"<form\b[^>]*>", html) if 'method="post"' in f]
        assert posts and len(re.findall(r'name="csrf_token"', html)) >= len(posts)
        assert all(csrf_from(f) == alice.csrf for f in forms if "csrf_token" in f)


def test_the_judge_scores_each_student_speech(alice: Session, one_exchange: dict[str, Any]) -> None:
    did = one_exchange["id"]
    cards = alice.client.get(f"/api/debates/{did}/scorecards").json()
    assert len(cards) == 1  # one student speech so far
    assert set(cards[0]["scores"]) == {"argument", "evidence", "clash", "organization", "language"}
    assert all(1 <= s <= 5 for s in cards[0]["scores"].values()) and cards[0]["feedback"]
    page = alice.client.get(f"/debates/{did}/scorecard")
    assert (
        page.status_code == 200 and page.text.count("<meter") == 5 and cards[0]["feedback"][:10] in page.text
    )
    # Both sides have spoken: the verdict on the flow is shown above the cards.
    verdict = page.text.split('class="card verdict"', 1)
    assert len(verdict) == 2 and "<ol><li>" in verdict[1].split("</section>", 1)[0]
    report = alice.client.get(f"/debates/{did}/scorecard/report")
    csp = report.headers["content-security-policy"]
    assert "<svg" in report.text and "<script" not in report.text.lower()
    assert "default-src 'none'" in csp and "script-src" not in csp  # no script may run in it
    download = alice.client.get(f"/debates/{did}/scorecard/report", params={"download": "true"})
    assert "attachment" in download.headers["content-disposition"]


def test_progress_over_time_across_debates(
    web: tuple[FastAPI, Any], alice: Session, one_exchange: dict[str, Any]
) -> None:
    app, cast = web
    assert f"/students/{cast.alice.id}/progress" in alice.client.get("/debates").text
    report = alice.client.get(f"/students/{cast.alice.id}/progress")
    assert report.status_code == 200 and "<svg" in report.text
    teacher = login(app, "teacher")  # alice's teacher
    assert teacher.client.get(f"/students/{cast.alice.id}/progress").status_code == 200


def test_two_workers_on_one_store_take_turns_on_the_same_debate(
    web: tuple[FastAPI, Any], web_runtime: Any, alice: Session
) -> None:
    """Behind a load balancer a debate's requests may reach another worker; neither may trip on a
    turn the other wrote (its cached engine is reloaded from the store)."""
    from banron.web.app import create_app
    from banron.web.config import WebConfig

    app1 = web[0]
    worker1 = app1.state.banron
    runtime2 = runtime_sharing(web_runtime, worker1.rt.settings)
    app2 = create_app(runtime=runtime2, config=WebConfig(turns_per_minute=1000))
    try:
        alice2 = login(app2, "alice")
        debate_id = start(alice)
        for s, text in ((alice, SPEECH), (alice2, "학교 전화로는 부족합니다."), (alice, "금지가 답입니다.")):
            r = s.api("POST", f"/api/debates/{debate_id}/turns", json={"text": text})
            assert r.status_code == 201, r.text
            events = sse_events(s.api("POST", f"/api/debates/{debate_id}/speak").text)
            assert [e for e, _ in events][-1] == "done" and "error" not in [e for e, _ in events]
        turns = alice.client.get(f"/api/debates/{debate_id}").json()["turns"]
        assert [t["speaker"] for t in turns] == ["student", "banron"] * 3
    finally:
        app2.state.banron.close()
