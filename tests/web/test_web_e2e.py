"""End to end in a real browser: Debian's chromium, headless, driven by Playwright, against a real
uvicorn server on a free loopback port.

A student signs in with the keyboard, debates one exchange and watches banron's speech arrive piece
by piece, then opens a citation and the scorecard; a teacher uploads a PDF and finds its passage
by search; a second student cannot open the first one's debate. A failing test leaves a
screenshot in ``tests/web/artifacts/``. Needs ``chromium`` on PATH (``apt-get install chromium``;
.ci/run installs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from web_app import Cast, make_app
from web_helpers import PASSWORD, minimal_pdf

from banron.debate.engine import DebateEngine
from banron.runtime import Runtime

pytestmark = pytest.mark.e2e
ARTIFACTS = Path(__file__).parent / "artifacts"
SPEECH = (
    "학교에서 스마트폰을 금지하면 수업 집중도가 높아집니다. 알림 때문에 학생들이 자주 산만해집니다. "
    "또한 스마트폰 금지는 교내 사이버 폭력을 줄입니다."
)
SHARED: dict[str, str] = {}  # alice's debate, for the intruder test
CHROMIUM_FLAGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-background-networking",  # nothing but the test server is contacted
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run must `apt-get install -y chromium`")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


class Server:
    """uvicorn on a free loopback port, in a thread of the test process."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def site(web_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Cast]]:
    # banron's speech is paced (120 ms a piece) so the browser has a stream to show: the fake
    # model's evidence templates would otherwise arrive all at once.
    original = DebateEngine.run_banron

    def paced(self: DebateEngine) -> Iterator[Any]:
        for item in original(self):
            if isinstance(item, str):
                time.sleep(0.12)
            yield item

    mp = pytest.MonkeyPatch()
    mp.setattr(DebateEngine, "run_banron", paced)
    app, cast = make_app(web_runtime, tmp_path_factory.mktemp("e2e_home"))
    with Server(app) as server:
        yield server, cast
    app.state.banron.close()
    mp.undo()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def context(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    ctx = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(20_000)
    yield ctx
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        for i, page in enumerate(ctx.pages):
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{i}.png"), full_page=True)
    ctx.close()


def sign_in(page: Any, url: str, name: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("아이디").fill(name)
    page.get_by_label("비밀번호").fill(PASSWORD)
    page.get_by_role("button", name="로그인").click()
    page.wait_for_url(lambda u: "/login" not in u)


def test_a_student_debates_one_exchange_and_checks_a_citation(
    site: tuple[Server, Cast], context: Any
) -> None:
    from playwright.sync_api import expect

    server, _ = site
    page = context.new_page()
    # Sign in with the keyboard only: the name field has focus, Tab moves on, Enter submits.
    page.goto(f"{server.url}/login")
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server.url}/debates")

    page.get_by_label("논제").select_option("phone-ban")
    page.get_by_label("토론 형식").select_option("free")
    page.get_by_label("찬성").check()
    page.get_by_role("button", name="토론 시작").click()
    page.wait_for_url(lambda u: "/debates/" in u)
    debate_url = page.url

    # The timeline shows the current phase; the timer starts with the first word.
    assert page.locator("#timeline li.current").count() == 1
    before = page.locator("#timer").inner_text()
    page.get_by_label("내 발언").fill(SPEECH)
    expect(page.locator("#timer")).not_to_have_text(before, timeout=5000)
    # Record what the live speech shows each time it changes, before banron's turn is stored.
    page.evaluate(
        """() => {
          window.__seen = [];
          const live = document.getElementById("live-text");
          new MutationObserver(() => {
            if (!document.querySelector("li.turn.banron")) window.__seen.push(live.textContent.length);
          }).observe(live, { childList: true, subtree: true, characterData: true });
        }"""
    )
    page.get_by_role("button", name="발언 제출").click()

    # banron's speech streams: growing partial text shows while the turn is not yet stored.
    page.locator("#live-text p").first.wait_for(state="visible")
    banron = page.locator("li.turn.banron")
    banron.wait_for(state="visible", timeout=30_000)
    final = banron.locator(".speech").inner_text()
    seen = [n for n in page.evaluate("window.__seen") if n]
    assert len(set(seen)) >= 3 and seen == sorted(seen) and seen[0] < len(final), seen
    assert int(page.evaluate("document.body.dataset.firstPieceMs")) >= 0

    # The student's turn and the flow sheet are there; the form is ready for the next round.
    assert page.locator("li.turn.student").count() == 1
    page.locator("#flow table.flow").wait_for()
    assert page.locator("#flow .claim.pro").count() >= 1
    assert page.locator("#speak-card").is_visible()

    # Click [1]: the evidence panel shows the passage with its source and the quote highlighted.
    cite = banron.locator(".speech button.cite").first
    n = cite.get_attribute("data-n")
    cite.focus()
    page.keyboard.press("Enter")  # a real button: the keyboard opens it too
    mark = page.locator("#evidence-body mark")
    mark.wait_for()
    assert mark.inner_text().strip()
    assert page.locator("#evidence-body .evidence-head").inner_text().startswith(f"[{n}]")
    assert page.evaluate("document.activeElement.id") == "evidence-title"

    # Exports download.
    with page.expect_download() as download:
        page.get_by_role("link", name="마크다운으로 내보내기").click()
    assert download.value.suggested_filename.endswith(".md")

    # The scorecard: the judge's five rubric scores with reasons and a tip, and its report's charts.
    page.get_by_role("link", name="채점표").click()
    page.get_by_role("heading", name="채점표", exact=True).wait_for(timeout=60_000)
    assert page.locator("section.scorecard meter").count() == 5
    assert page.locator("section.scorecard .notice.ok").inner_text().strip()
    page.get_by_role("link", name="차트가 있는 채점 보고서 열기").click()
    page.locator("svg").first.wait_for()
    assert page.locator("svg").count() >= 1
    SHARED["alice_debate_url"] = debate_url


def test_a_second_student_cannot_open_the_first_one_s_debate(
    site: tuple[Server, Cast], context: Any, browser: Any
) -> None:
    server, _ = site
    url = SHARED.get("alice_debate_url")
    if url is None:  # run alone: make alice's debate first
        owner = context.new_page()
        sign_in(owner, server.url, "alice")
        owner.get_by_role("button", name="토론 시작").click()
        owner.wait_for_url(lambda u: "/debates/" in u)
        url = owner.url
    intruder = browser.new_context(locale="ko-KR")
    try:
        page = intruder.new_page()
        sign_in(page, server.url, "carol")
        response = page.goto(url)
        assert response is not None and response.status == 404
        assert page.get_by_role("heading", name="찾을 수 없습니다").is_visible()
        api = page.goto(url.replace("/debates/", "/api/debates/"))
        assert api is not None and api.status == 404
        assert SPEECH[:10] not in page.content()
    finally:
        intruder.close()


def test_a_teacher_uploads_a_pdf_and_finds_its_passage(
    site: tuple[Server, Cast], context: Any, tmp_path: Path
) -> None:
    server, _ = site
    pdf = tmp_path / "uniform-survey.pdf"
    pdf.write_bytes(
        minimal_pdf(
            [
                [
                    "School uniforms cost families more than two hundred dollars a year.",
                    "Parents asked for help.",
                ]
            ],
            title="Uniform cost survey",
        )
    )
    page = context.new_page()
    sign_in(page, server.url, "teacher")
    page.goto(f"{server.url}/teacher/kb")
    page.get_by_label("자료집 이름").fill("e2e-uniforms")
    page.get_by_label("파일").set_input_files(str(pdf))
    page.get_by_role("button", name="올리기").click()
    page.locator("#job-done").wait_for(state="visible", timeout=60_000)
    assert page.locator("#job-errors").is_hidden()
    assert page.evaluate("document.getElementById('job-progress').value") == page.evaluate(
        "document.getElementById('job-progress').max"
    )
    page.get_by_role("link", name="자료집 살펴보기").click()
    page.get_by_label("검색어").fill("how much do uniforms cost")
    page.get_by_role("button", name="검색").click()
    first = page.locator("li.passage").first
    assert first.locator(".passage-title").inner_text() == "Uniform cost survey"
    assert "uniform-survey.pdf" in first.inner_text() and "1쪽" in first.inner_text()


def test_the_debate_page_fits_a_phone(site: tuple[Server, Cast], browser: Any) -> None:
    server, _ = site
    phone = browser.new_context(locale="en-US", viewport={"width": 375, "height": 740}, is_mobile=True)
    try:
        page = phone.new_page()
        page.goto(f"{server.url}/login")
        page.get_by_label("User name").fill("bob")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{server.url}/debates")
        page.get_by_role("button", name="Start the debate").click()
        page.wait_for_url(lambda u: "/debates/" in u)
        for _ in range(2):
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, overflow
            page.goto(f"{server.url}/debates")
    finally:
        phone.close()
