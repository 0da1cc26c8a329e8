"""Reports: Markdown and a self-contained HTML page with a radar chart and a progress chart."""

from __future__ import annotations

import re

from banron.judge.fallacies import Finding
from banron.judge.report import to_html, to_markdown
from banron.judge.rubric import DIMENSIONS, load
from banron.judge.scorecard import ClaimCheck, DimensionScore, Scorecard, side_totals


def card(i: int, date: str | None, side: str = "pro", base: int = 2) -> Scorecard:
    scores = {
        d: DimensionScore(d, min(5, base + (k + i) % 3), f"「근거 {d}」 이유입니다.")
        for k, d in enumerate(DIMENSIONS)
    }
    rubric = load("free")
    return Scorecard(
        id=f"s{i}",
        motion="학교 내 스마트폰 사용을 금지해야 한다",
        side=side,
        lang="ko",
        rubric="free",
        scores=scores,
        overall_exact=rubric.weighted({d: s.score for d, s in scores.items()}),
        quality=3.0,
        fallacies=[Finding("slippery_slope", "허용하면 결국 모든 규칙이 무너질 것입니다.", 0.8)]
        if i == 0
        else [],
        claims=[ClaimCheck("스마트폰은 집중을 방해합니다.", False)],
        key_points=["수업 집중력", "비상 연락"],
        feedback="「스마트폰은 집중을 방해합니다.」를 뒷받침할 수치를 덧붙이세요.",
        date=date,
    )


def test_html_report_is_self_contained_with_both_charts() -> None:
    cards = [card(2, "2026-03-16"), card(0, "2026-03-02"), card(1, "2026-03-09")]
    page = to_html(cards)
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert page.count("<svg") == 2  # radar of the latest + progress over time
    # Nothing is fetched from anywhere: no scripts, stylesheets, images, fonts or frames.
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", page, re.IGNORECASE)
    assert not re.search(r"url\(|@import|\b(src|href)\s*=", page, re.IGNORECASE)
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}  # XML namespace names
    # Korean labels, dates in order, the latest speech shown first.
    assert "논리" in page and "반박" in page
    assert (
        page.index("2026-03-16") < page.index("2026-03-02") < page.index("2026-03-09")
    )  # latest, then progress
    assert "미끄러운 비탈길" in page


def test_markdown_report_has_scores_reasons_and_progress() -> None:
    text = to_markdown([card(0, "2026-03-02"), card(1, "2026-03-09")])
    assert text.startswith("# 토론 채점표")
    assert "| 논리 |" in text and "「근거 argument」 이유입니다." in text
    assert "## 점수 변화" in text
    assert text.index("## s1") < text.index("## s0")  # latest first


def test_scorecards_round_trip_through_json_and_total_per_side() -> None:
    cards = [card(0, "2026-03-02"), card(1, None, side="con"), card(2, None, side="con")]
    again = [Scorecard.from_dict(c.to_dict()) for c in cards]
    assert [c.to_dict() for c in again] == [c.to_dict() for c in cards]
    totals = side_totals(cards)
    assert totals["con"].speeches == 2
    assert totals["con"].totals["argument"] == cards[1].score("argument") + cards[2].score("argument")
    assert totals["pro"].fallacies == {"slippery_slope": 1}
