"""The web app as a student's browser sees it, on the embedded defaults (local model, SQLite).

Starts `banron serve` in a subprocess on a fresh BANRON_HOME (so evidence loading and, for English,
assembling and loading the chat model all count), signs a student in with Debian's chromium
(headless, through Playwright) and measures:

- page load: the debate page (two turns, flow sheet) loaded N times; Navigation Timing's
  time to first byte, DOMContentLoaded and load, median;
- first streamed text: from the student's submit to banron's first words on the page, and from
  the speech request (after the student's turn is stored) to those words, both timed by the page
  itself (performance.now()); "cold" is the server's first speech in that language, "warm" the
  next one;
- the whole speech: from the submit to banron's stored turn on the page.

It also saves screenshots of the main pages under benchmarks/results/screenshots/ (git-ignored).

    python benchmarks/web_first_token.py [--loads 5] [--llm local] [--json OUT]
    (default OUT: benchmarks/results/web_first_token.json)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from banron.web.launch import ServeError, start_serve

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
SHOTS = RESULTS / "screenshots"
PASSWORD = "benchmark password"
SPEECHES = {
    "ko": (
        "phone-ban",
        [
            "스마트폰은 수업 시간에 학생들의 집중력을 떨어뜨립니다. "
            "또한 사이버 폭력의 주요 통로가 되고 있습니다.",
            "비상 연락은 학교 전화로 충분합니다. 수업에 필요한 기기는 학교 태블릿으로 대신할 수 있습니다.",
        ],
    ),
    "en": (
        "ai-homework",
        [
            "Generative AI gives every student a patient tutor at home. "
            "Banning it just drives use underground.",
            "Teachers can design assignments that AI cannot complete alone. "
            "Students must learn the tools of work.",
        ],
    ),
}


def start_server(home: Path, llm: str) -> tuple[subprocess.Popen[str], str, float]:
    env = {**os.environ, "BANRON_HOME": str(home), "BANRON_LLM__BACKEND": llm}
    started = time.perf_counter()
    try:
        proc, url = start_serve(env)
    except ServeError as e:
        raise SystemExit(str(e)) from None
    return proc, url, time.perf_counter() - started


def add_users(home: Path) -> None:
    from banron.store.accounts import AccountStore
    from banron.web.passwords import hash_password

    store = AccountStore(home / "accounts.sqlite")
    digest = hash_password(PASSWORD)
    teacher = store.add_user(name="teacher", role="teacher", password_hash=digest)
    classroom = store.create_class(name="2학년 3반", teacher_id=teacher.id)
    for name in ("minji", "jun"):
        user = store.add_user(name=name, role="student", password_hash=digest)
        store.add_member(class_id=classroom.id, user_id=user.id)
    store.add_user(name="admin", role="admin", password_hash=digest)


def sign_in(page: Any, url: str, name: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#login-name", name)
    page.fill("#login-password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(lambda u: "/login" not in u)


def start_debate(page: Any, url: str, motion: str, lang: str) -> str:
    page.goto(f"{url}/debates")
    page.select_option("#nd-motion", motion)
    page.select_option("#nd-format", "free")
    page.check("input[name=side][value=pro]")
    page.select_option("#nd-lang", lang)
    page.click("form.new-debate button[type=submit]")
    page.wait_for_url(lambda u: "/debates/" in u)
    return str(page.url)


def one_exchange(page: Any, speech: str, timeout_ms: int) -> dict[str, float]:
    """Times measured by the page itself (performance.now()): they do not depend on polling."""
    turns = page.locator("li.turn.banron").count()
    page.fill("#speech", speech)
    page.click("#submit")
    page.locator("li.turn.banron").nth(turns).wait_for(state="visible", timeout=timeout_ms)
    page.locator("#speak-card").wait_for(state="visible", timeout=timeout_ms)
    m = page.evaluate("window.banronMetrics")
    return {
        "submit_to_first_piece_s": (m["firstPieceAt"] - m["submittedAt"]) / 1000,
        "request_to_first_piece_s": m["firstPieceMs"] / 1000,
        "submit_to_turn_s": (m["turnAt"] - m["submittedAt"]) / 1000,
    }


def page_loads(page: Any, url: str, n: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {"ttfb_ms": [], "dom_content_loaded_ms": [], "load_ms": []}
    for _ in range(n):
        page.goto(url, wait_until="load")
        t = page.evaluate(
            "() => { const n = performance.getEntriesByType('navigation')[0];"
            " return [n.responseStart, n.domContentLoadedEventEnd, n.loadEventEnd]; }"
        )
        for key, value in zip(samples, t, strict=True):
            samples[key].append(float(value))
    return {k: statistics.median(v) for k, v in samples.items()}


def shoot(page: Any, name: str) -> str:
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / ".gitignore").write_text("*\n")
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return str(path.relative_to(ROOT.parent))


def teacher_pages(browser: Any, url: str, shots: list[str]) -> None:
    ctx = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    sign_in(page, url, "teacher")
    shots.append(shoot(page, "teacher-home"))
    pdf = Path(tempfile.mkdtemp()) / "uniform-costs.pdf"
    sys.path.insert(0, str(ROOT.parent / "tests" / "web"))
    from web_helpers import minimal_pdf

    pdf.write_bytes(
        minimal_pdf(
            [["School uniforms cost families more than two hundred dollars a year.", "Parents need help."]],
            title="Uniform cost survey",
        )
    )
    bad = pdf.with_name("scan.pdf")
    bad.write_bytes(b"%PDF-1.4 not really")  # shows the per-file error list
    page.goto(f"{url}/teacher/kb")
    page.fill("#up-kb", "uniforms")
    page.set_input_files("#up-files", [str(pdf), str(bad)])
    page.click("#upload-form button[type=submit]")
    page.locator("#job-done").wait_for(state="visible", timeout=120_000)
    shots.append(shoot(page, "teacher-upload-done"))
    page.goto(f"{url}/teacher/kb/uniforms?q=uniform+cost")
    shots.append(shoot(page, "teacher-kb-search"))
    page.goto(f"{url}/teacher/motions")
    shots.append(shoot(page, "teacher-motions"))
    page.goto(f"{url}/teacher/classes")
    page.click("ul.cards-list a")
    shots.append(shoot(page, "teacher-class"))
    ctx.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loads", type=int, default=5, help="Debate page loads to time.")
    ap.add_argument("--llm", default="local", help="Chat backend of the server (default: local).")
    ap.add_argument("--timeout", type=float, default=600, help="Seconds to wait for one speech.")
    ap.add_argument("--json", type=Path, default=RESULTS / "web_first_token.json")
    ap.add_argument("--no-screenshots", action="store_true")
    args = ap.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("needs Debian's chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    console = Console()
    home = Path(tempfile.mkdtemp(prefix="banron-web-bench-"))
    add_users(home)
    proc, url, startup = start_server(home, args.llm)
    timeout_ms = int(args.timeout * 1000)
    results: dict[str, Any] = {"llm": args.llm, "server_start_s": startup, "runs": {}, "screenshots": []}
    shots: list[str] = results["screenshots"]
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=chromium,
                headless=True,
                args=["--no-sandbox", "--disable-background-networking", "--disable-component-update"],
            )
            ctx = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
            page = ctx.new_page()
            page.goto(f"{url}/login")
            if not args.no_screenshots:
                shots.append(shoot(page, "login"))
            sign_in(page, url, "minji")
            debate_url = ""
            for lang, (motion, speeches) in SPEECHES.items():
                debate_url = start_debate(page, url, motion, lang)
                runs = [one_exchange(page, s, timeout_ms) for s in speeches]
                results["runs"][lang] = {"cold": runs[0], "warm": runs[1], "debate": debate_url}
                if lang == "ko" and not args.no_screenshots:
                    page.locator("li.turn.banron .speech button.cite").first.click()
                    page.locator("#evidence-body mark").wait_for()
                    shots.append(shoot(page, "debate-ko-evidence"))
            results["page_load"] = page_loads(page, results["runs"]["ko"]["debate"], args.loads)
            if not args.no_screenshots:
                page.goto(f"{url}/debates")
                shots.append(shoot(page, "student-home"))
                ctx.add_cookies([{"name": "banron_lang", "value": "en", "url": url}])
                page.goto(results["runs"]["en"]["debate"])
                shots.append(shoot(page, "debate-en"))
                ctx.add_cookies([{"name": "banron_lang", "value": "ko", "url": url}])
                phone = browser.new_context(
                    locale="ko-KR", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
                )
                phone_page = phone.new_page()
                sign_in(phone_page, url, "minji")
                phone_page.goto(results["runs"]["ko"]["debate"])
                shots.append(shoot(phone_page, "debate-phone"))
                SHOTS.joinpath("debate-phone-top.png").write_bytes(phone_page.screenshot())  # first screen
                shots.append(str((SHOTS / "debate-phone-top.png").relative_to(ROOT.parent)))
                phone.close()
                started = time.perf_counter()
                page.goto(results["runs"]["ko"]["debate"] + "/scorecard", timeout=timeout_ms)
                results["scorecard_first_s"] = time.perf_counter() - started
                shots.append(shoot(page, "scorecard"))
                page.goto(results["runs"]["ko"]["debate"] + "/scorecard/report")
                shots.append(shoot(page, "scorecard-report"))
                teacher_pages(browser, url, shots)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)

    table = Table(title=f"banron serve in chromium (llm={args.llm})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("server start → first page served", f"{startup:.2f} s")
    load = results["page_load"]
    table.add_row(f"debate page: time to first byte (median of {args.loads})", f"{load['ttfb_ms']:.0f} ms")
    table.add_row("debate page: DOMContentLoaded", f"{load['dom_content_loaded_ms']:.0f} ms")
    table.add_row("debate page: load", f"{load['load_ms']:.0f} ms")
    if "scorecard_first_s" in results:
        table.add_row("scorecard page, first (judges 2 speeches)", f"{results['scorecard_first_s']:.2f} s")
    for lang, run in results["runs"].items():
        for temp in ("cold", "warm"):
            r = run[temp]
            for label, key in (
                ("submit → first streamed text", "submit_to_first_piece_s"),
                ("speech request → first text", "request_to_first_piece_s"),
                ("submit → whole speech shown", "submit_to_turn_s"),
            ):
                table.add_row(f"{lang} {temp}: {label}", f"{r[key]:.2f} s")
    console.print(table)
    for shot in shots:
        console.print(f"[dim]screenshot {shot}[/]")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    console.print(f"[dim]wrote {args.json}[/]")


if __name__ == "__main__":
    main()
