"""The speech being written: drafts (``POST /api/debates/{id}/draft``) and the debate page's use of them.

A draft returns the claims banron would answer if the student submitted the text now and starts
embedding them, so the submit finds their vectors ready; nothing is stored. The page sends one
after each pause in typing, lists the claims under the textarea (as text), and keeps the speech
in localStorage until it is submitted.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_web_e2e as e2e
from fastapi import FastAPI
from web_app import Cast, make_app
from web_helpers import Session, login

from banron.kb import embed
from banron.kb.e5_engine import E5Encoder
from banron.runtime import Runtime
from banron.web.config import WebConfig

SENTENCES = [
    "학교에서 스마트폰을 금지하면 수업 집중도가 높아집니다.",
    "알림 때문에 학생들이 자주 산만해집니다.",
    "또한 스마트폰 금지는 교내 사이버 폭력을 줄입니다.",
]
SPEECH = " ".join(SENTENCES)
MORE = "그러므로 스마트폰 사용을 금지해야 합니다."
Server, sign_in = e2e.Server, e2e.sign_in
browser, context = e2e.browser, e2e.context  # the browser fixtures (a chromium per module)


def start(s: Session, fmt: str = "free") -> str:
    r = s.api("POST", "/api/debates", json={"motion_id": "phone-ban", "format": fmt, "side": "pro"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def draft(s: Session, debate_id: str, text: str) -> Any:
    return s.api("POST", f"/api/debates/{debate_id}/draft", json={"text": text})


def prefetches_done() -> None:
    """Wait for the query prefetches queued so far (one worker: a no-op queued after them)."""
    embed._PREFETCH.get().submit(lambda: None).result(timeout=60)


@pytest.fixture(scope="module")
def alice(web: tuple[FastAPI, Cast]) -> Session:
    return login(web[0], "alice")


# -- the endpoint ---------------------------------------------------------------------------------
def test_a_draft_returns_the_claims_a_submit_then_stores_and_stores_nothing(alice: Session) -> None:
    did = start(alice)
    before = alice.client.get(f"/api/debates/{did}").json()
    r = draft(alice, did, f"  {SPEECH}\n")
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["read"] is True
    assert [c["text"] for c in body["claims"]] == SENTENCES  # the student's own sentences
    assert [c["id"] for c in body["claims"]] == ["t1c1", "t1c2", "t1c3"]
    assert draft(alice, did, SPEECH).json() == body  # the same text, the same answer
    after = alice.client.get(f"/api/debates/{did}").json()
    assert after["turns"] == before["turns"] == [] and after["slot"] == before["slot"]
    assert after["updated_at"] == before["updated_at"]
    r = alice.api("POST", f"/api/debates/{did}/turns", json={"text": SPEECH})
    assert r.status_code == 201, r.text
    stored = alice.client.get(f"/api/debates/{did}").json()["turns"]
    assert len(stored) == 1 and stored[0]["text"] == SPEECH
    assert [(c["id"], c["text"]) for c in stored[0]["claims"]] == [
        (c["id"], c["text"]) for c in body["claims"]
    ]


def test_an_empty_draft_has_no_claims(alice: Session) -> None:
    did = start(alice)
    for text in ("", "   \n\t "):
        r = draft(alice, did, text)
        assert r.status_code == 202 and r.json() == {"read": True, "claims": []}
    assert draft(alice, did, "x" * 20_001).status_code == 422


def test_only_the_debater_may_send_drafts(web: tuple[FastAPI, Cast], alice: Session) -> None:
    did = start(alice)
    bob = login(web[0], "bob")
    r = draft(bob, did, SPEECH)
    assert r.status_code == 404 and "claims" not in r.json()
    teacher = login(web[0], "teacher")  # alice's teacher may read the debate, not speak in it
    assert teacher.client.get(f"/api/debates/{did}").status_code == 200
    assert draft(teacher, did, SPEECH).status_code == 403
    assert draft(alice, "0123456789ab", SPEECH).status_code == 404
    # Without the CSRF token the session cookie is not enough.
    assert alice.client.post(f"/api/debates/{did}/draft", json={"text": SPEECH}).status_code == 403


def test_no_drafts_in_a_finished_debate(alice: Session) -> None:
    did = start(alice)
    assert alice.api("POST", f"/api/debates/{did}/end").status_code == 200
    r = draft(alice, did, SPEECH)
    assert r.status_code == 409 and r.json()["code"] == "not_your_turn"


def test_drafts_are_rate_limited_per_user(web_runtime: Runtime, tmp_path: Path) -> None:
    app, _ = make_app(web_runtime, tmp_path, WebConfig(drafts_per_minute=2))
    try:
        alice = login(app, "alice")
        did = start(alice)
        assert draft(alice, did, SPEECH).status_code == 202
        assert draft(alice, did, SPEECH).status_code == 202
        r = draft(alice, did, SPEECH)
        assert r.status_code == 429 and r.json()["code"] == "rate_limited"
        assert 1 <= int(r.headers["retry-after"]) <= 61
        # The submit has its own limit: drafts never use up the student's speeches.
        assert alice.api("POST", f"/api/debates/{did}/turns", json={"text": SPEECH}).status_code == 201
        bob = login(app, "bob")
        assert draft(bob, start(bob), SPEECH).status_code == 202
    finally:
        app.state.banron.close()


def test_the_submit_finds_the_drafted_claims_embedded(
    web_runtime: Runtime, alice: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claims of a draft are embedded before the submit: the submit runs the encoder only for a
    sentence written after the draft. A second speech, so the submit links its claims to banron's
    (embedding them on the submit's own path, not only in the background)."""
    embedder = web_runtime.embedder
    assert isinstance(embedder, embed.E5SmallEmbedder) and embedder._encoder is not None
    did = start(alice)
    assert alice.api("POST", f"/api/debates/{did}/turns", json={"text": SPEECH}).status_code == 201
    assert alice.api("POST", f"/api/debates/{did}/speak").status_code == 200
    # Sentences no earlier test embedded (the embedder remembers the queries it has seen).
    n = random.randrange(10**6, 10**7)
    drafted = [
        f"휴대폰 사용 시간은 하루 평균 {n}초에 이릅니다.",
        f"학생 {n + 1}명이 수업 중 게임을 한다고 답했습니다.",
    ]
    later = f"그래서 {n + 2}개 학교가 이미 금지를 시행했습니다."
    r = draft(alice, did, " ".join(drafted))
    assert r.status_code == 202 and [c["text"] for c in r.json()["claims"]] == drafted
    assert [c["id"] for c in r.json()["claims"]] == ["t3c1", "t3c2"]
    prefetches_done()

    encoded: list[str] = []
    original = E5Encoder.encode

    def spy(self: E5Encoder, texts: list[str], *args: Any, **kw: Any) -> Any:
        encoded.extend(texts)
        return original(self, texts, *args, **kw)

    monkeypatch.setattr(E5Encoder, "encode", spy)
    r = alice.api("POST", f"/api/debates/{did}/turns", json={"text": " ".join([*drafted, later])})
    assert r.status_code == 201, r.text
    prefetches_done()
    assert [c["text"] for c in r.json()["claims"]] == [*drafted, later]
    assert later in encoded  # the spy sees the encoder: the sentence not drafted was embedded now
    assert not set(drafted) & set(encoded), encoded  # the drafted ones were ready


# -- the debate page ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def site(web_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Cast]]:
    app, cast = make_app(
        web_runtime, tmp_path_factory.mktemp("drafts_home"), WebConfig(turns_per_minute=1000)
    )
    with Server(app) as server:
        yield server, cast
    app.state.banron.close()


def open_debate(page: Any, url: str, name: str) -> str:
    """Sign in, start a free debate on the default motion; its id."""
    sign_in(page, url, name)
    page.get_by_role("button", name="토론 시작").click()
    page.wait_for_url(lambda u: "/debates/" in u)
    return str(page.url.rsplit("/", 1)[1])


def saved(page: Any, debate_id: str) -> Any:
    return page.evaluate("id => localStorage.getItem('banron.speech.' + id)", debate_id)


def claims_shown(page: Any) -> list[str]:
    return [str(s) for s in page.locator("#draft-claims li").all_text_contents()]


@pytest.mark.e2e
def test_the_page_previews_the_claims_keeps_the_speech_and_forgets_it_once_submitted(
    site: tuple[Server, Cast], context: Any
) -> None:
    from playwright.sync_api import expect

    server, _ = site
    page = context.new_page()
    drafts: list[str] = []
    page.on("request", lambda r: drafts.append(r.post_data or "") if r.url.endswith("/draft") else None)
    did = open_debate(page, server.url, "alice")
    box = page.locator("#draft")
    assert box.is_hidden() and saved(page, did) is None

    # A pause in typing: one draft, and the claims banron will answer appear under the textarea.
    speech = page.get_by_label("내 발언")
    speech.fill(SPEECH)
    assert SPEECH in saved(page, did)  # kept at once, before any draft
    expect(page.locator("#draft-claims li")).to_have_count(3, timeout=10_000)
    assert claims_shown(page) == SENTENCES and box.is_visible()
    assert box.inner_text().startswith("반론이 답할 주장")
    assert len(drafts) == 1
    # A burst of keystrokes is one draft, sent after the pause that ends it.
    speech.press("End")
    speech.press_sequentially(" " + MORE)
    expect(page.locator("#draft-claims li")).to_have_count(4, timeout=10_000)
    assert claims_shown(page) == [*SENTENCES, MORE] and len(drafts) == 2
    speech.press_sequentially("  ")  # the same speech once trimmed: nothing new to read
    page.wait_for_timeout(1800)
    assert len(drafts) == 2
    typed = f"{SPEECH} {MORE}  "
    assert saved(page, did) is not None and typed in saved(page, did)

    # A reload (or a crashed tab) brings the speech back, with its preview.
    page.reload()
    expect(speech).to_have_value(typed)
    expect(page.locator("#draft-claims li")).to_have_count(4, timeout=10_000)
    assert page.locator("#word-count").inner_text().startswith(f"{len(typed.split())} /")

    # Submitted: the speech is stored, the textarea, the preview and the saved copy are gone.
    page.get_by_role("button", name="발언 제출").click()
    page.locator("li.turn.banron").wait_for(state="visible", timeout=30_000)
    assert page.locator("li.turn.student").count() == 1
    expect(speech).to_have_value("")
    assert box.is_hidden() and saved(page, did) is None
    page.reload()
    expect(page.locator("li.turn.banron")).to_have_count(1)
    expect(speech).to_have_value("")
    assert box.is_hidden() and saved(page, did) is None
    assert page.locator("#status").inner_text() == ""


@pytest.mark.e2e
def test_claims_with_markup_show_as_text(site: tuple[Server, Cast], context: Any) -> None:
    from playwright.sync_api import expect

    server, _ = site
    page = context.new_page()
    open_debate(page, server.url, "bob")
    evil = [
        "Phones with <b>x</b> alerts distract students in every class.",
        '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> ruins focus.',
    ]
    page.get_by_label("내 발언").fill(" ".join(evil))
    expect(page.locator("#draft-claims li")).to_have_count(2, timeout=10_000)
    shown = claims_shown(page)
    assert "<b>x</b>" in shown[0] and "<script>" in shown[1] and "<img src=x" in shown[1]
    assert page.locator("#draft-claims b, #draft-claims script, #draft-claims img").count() == 0
    assert page.evaluate("window.__pwned") is None


@pytest.mark.e2e
def test_drafts_retry_when_not_read_and_fail_silently(site: tuple[Server, Cast], context: Any) -> None:
    """A draft the server could not read now is sent again once, a few seconds later; a 429 waits
    for Retry-After; errors are never shown, and the speech is still submitted."""
    from playwright.sync_api import expect

    server, _ = site
    page = context.new_page()
    answers = [
        {"status": 202, "json": {"read": False, "claims": []}},
        {"status": 429, "json": {"detail": "drafts are coming too fast"}, "headers": {"Retry-After": "1"}},
    ]
    seen: list[float] = []

    def fake(route: Any) -> None:
        seen.append(time.monotonic())
        if answers:
            route.fulfill(**answers.pop(0))
        else:
            route.continue_()

    did = open_debate(page, server.url, "carol")
    page.route("**/draft", fake)
    page.get_by_label("내 발언").fill(SPEECH)
    expect(page.locator("#draft-claims li")).to_have_count(3, timeout=15_000)
    assert len(seen) == 3
    assert seen[1] - seen[0] >= 3.0 and seen[2] - seen[1] >= 0.9  # the retry, then Retry-After
    assert page.locator("#status").inner_text() == ""

    # A server that fails drafts outright changes nothing for the student.
    page.unroute("**/draft")
    page.route("**/draft", lambda route: route.fulfill(status=500, body="boom"))
    page.get_by_label("내 발언").fill(SPEECH + " 그러므로 금지해야 합니다.")
    page.wait_for_timeout(1600)
    assert page.locator("#status").inner_text() == "" and claims_shown(page) == SENTENCES
    page.get_by_role("button", name="발언 제출").click()
    page.locator("li.turn.student").wait_for(state="visible")
    assert saved(page, did) is None


@pytest.mark.e2e
def test_signing_out_forgets_the_speeches_saved_while_typing(site: tuple[Server, Cast], context: Any) -> None:
    """On a shared computer the next person must not find an unsubmitted speech in the browser."""
    server, _ = site
    page = context.new_page()
    did = open_debate(page, server.url, "alice")
    page.get_by_label("내 발언").fill(SPEECH)
    page.evaluate("localStorage.setItem('unrelated', 'kept')")
    assert SPEECH in saved(page, did)
    page.get_by_role("button", name="로그아웃").click()
    page.wait_for_url(lambda u: "/login" in u)
    assert saved(page, did) is None
    assert page.evaluate("localStorage.getItem('unrelated')") == "kept"  # only banron's speeches go
