"""Scorecards as Markdown and as one self-contained HTML page with charts.

The charts are drawn by pygal (a pure-Python SVG charting library, ~130 kB, no browser or
JavaScript needed) and inlined into the page: a radar of the latest speech's rubric scores, and
a line chart of the scores over time when there are several dated speeches. The page loads no
script, font, stylesheet or image from anywhere, so it opens offline and can be mailed as is.
Korean text in the charts is plain SVG text, rendered with the reader's own fonts.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from banron.judge.fallacies import NAMES
from banron.judge.rubric import DIMENSIONS, Rubric, load
from banron.judge.scorecard import Scorecard

_FONTS = '"Noto Sans KR","Apple SD Gothic Neo","Malgun Gothic","Nanum Gothic",system-ui,sans-serif'
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# pygal inlines its configuration for the tooltip script (which we do not load): drop it too.
_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL | re.IGNORECASE)


def _lang(cards: Sequence[Scorecard], lang: str | None) -> str:
    if lang in ("ko", "en"):
        return lang
    return "ko" if any(c.lang == "ko" for c in cards) else "en"


def _ordered(cards: Sequence[Scorecard]) -> list[Scorecard]:
    """By date (undated ones keep their order, after the dated)."""
    indexed = list(enumerate(cards))
    indexed.sort(key=lambda ic: (ic[1].date is None, ic[1].date or "", ic[0]))
    return [c for _, c in indexed]


def _label(card: Scorecard, i: int) -> str:
    return card.date or card.id or str(i + 1)


def _style(label_size: int = 13) -> object:
    from pygal.style import Style  # type: ignore[import-untyped]

    return Style(
        font_family=_FONTS,
        background="white",
        plot_background="white",
        foreground="#333",
        foreground_strong="#111",
        foreground_subtle="#999",
        colors=("#3b6fd8", "#d8573b", "#2e9e6a", "#8a56c4", "#c49a2e", "#555555"),
        label_font_size=label_size,
        major_label_font_size=label_size,
        legend_font_size=12,
    )


def _clean(svg: str) -> str:
    return _SCRIPT.sub("", _COMMENT.sub("", svg))


def radar_svg(card: Scorecard, rubric: Rubric, lang: str) -> str:
    """The rubric scores of one speech as an inline SVG radar chart."""
    import pygal  # type: ignore[import-untyped]

    chart = pygal.Radar(
        fill=True,
        range=(0, 5),
        js=(),
        disable_xml_declaration=True,
        show_legend=False,
        width=420,
        height=400,
        margin=28,
        style=_style(17),
        dots_size=4,
        y_labels=[1, 2, 3, 4, 5],
    )
    chart.x_labels = [rubric[d].name(lang) for d in DIMENSIONS]
    chart.add(card.id or "speech", [card.score(d) for d in DIMENSIONS])
    return _clean(chart.render(is_unicode=True))


def progress_svg(cards: Sequence[Scorecard], rubric: Rubric, lang: str) -> str:
    """Scores over time (one line per dimension, and the overall) as an inline SVG line chart."""
    import pygal

    ordered = _ordered(cards)
    chart = pygal.Line(
        range=(1, 5),
        js=(),
        disable_xml_declaration=True,
        width=720,
        height=340,
        margin_right=48,
        style=_style(),
        legend_at_bottom=True,
        x_label_rotation=20 if len(ordered) > 6 else 0,
        y_labels=[1, 2, 3, 4, 5],
        dots_size=3,
    )
    chart.x_labels = [_label(c, i) for i, c in enumerate(ordered)]
    for d in DIMENSIONS:
        chart.add(rubric[d].name(lang), [c.score(d) for c in ordered])
    chart.add(
        "종합" if lang == "ko" else "Overall",
        [round(c.overall_exact, 2) for c in ordered],
        stroke_style={"width": 3},
    )
    return _clean(chart.render(is_unicode=True))


_T = {
    "ko": {
        "title": "토론 채점표",
        "motion": "논제",
        "side": "입장",
        "overall": "종합",
        "dimension": "항목",
        "score": "점수",
        "reason": "근거",
        "fallacies": "논리적 오류",
        "none": "없음",
        "unsupported": "근거 없는 주장",
        "key_points": "핵심어",
        "tip": "다음에 연습할 것",
        "progress": "점수 변화",
        "history": "지난 발언",
        "date": "날짜",
        "pro": "찬성",
        "con": "반대",
    },
    "en": {
        "title": "Debate scorecard",
        "motion": "Motion",
        "side": "Side",
        "overall": "Overall",
        "dimension": "Dimension",
        "score": "Score",
        "reason": "Why",
        "fallacies": "Fallacies",
        "none": "none",
        "unsupported": "Claims without support",
        "key_points": "Key points",
        "tip": "Practise next",
        "progress": "Progress",
        "history": "Earlier speeches",
        "date": "Date",
        "pro": "proposition",
        "con": "opposition",
    },
}


def _dots(n: int) -> str:
    return "●" * n + "○" * (5 - n)


def to_markdown(cards: Sequence[Scorecard], rubric: Rubric | None = None, lang: str | None = None) -> str:
    """Every scorecard as a Markdown section (latest first), then a table of scores over time."""
    if not cards:
        return ""
    lg = _lang(cards, lang)
    t = _T[lg]
    ordered = _ordered(cards)
    out = [f"# {t['title']}", ""]
    for card in reversed(ordered):
        rb = rubric or load(card.rubric)
        head = f"## {card.id}" + (f" · {card.date}" if card.date else "")
        out += [head, ""]
        if card.motion:
            out.append(f"- **{t['motion']}**: {card.motion}")
        if card.side:
            out.append(f"- **{t['side']}**: {t.get(card.side, card.side)}")
        out.append(f"- **{t['overall']}**: {card.overall}/5 ({card.overall_exact:.2f})")
        out += ["", f"| {t['dimension']} | {t['score']} | {t['reason']} |", "|---|---|---|"]
        for d in DIMENSIONS:
            reason = card.scores[d].reason.replace("|", "\\|")
            out.append(f"| {rb[d].name(lg)} | {card.score(d)} {_dots(card.score(d))} | {reason} |")
        out += [
            "",
            f"**{t['fallacies']}**: " + (", ".join(NAMES[f.type][lg] for f in card.fallacies) or t["none"]),
        ]
        for f in card.fallacies:
            out.append(f"- {NAMES[f.type][lg]}: “{f.sentence}” ({f.confidence:.2f})")
        if card.unsupported_claims:
            out += ["", f"**{t['unsupported']}**:"] + [f"- {c}" for c in card.unsupported_claims]
        if card.key_points:
            out += ["", f"**{t['key_points']}**: " + ", ".join(card.key_points)]
        out += ["", f"**{t['tip']}**: {card.feedback}", ""]
    if len(ordered) > 1:
        rb = rubric or load(ordered[-1].rubric)
        names = [rb[d].name(lg) for d in DIMENSIONS]
        out += [f"## {t['progress']}", "", f"| {t['date']} | " + " | ".join(names) + f" | {t['overall']} |"]
        out.append("|---" * (len(names) + 2) + "|")
        for i, c in enumerate(ordered):
            row = " | ".join(str(c.score(d)) for d in DIMENSIONS)
            out.append(f"| {_label(c, i)} | {row} | {c.overall_exact:.2f} |")
        out.append("")
    return "\n".join(out)


_CSS = "\n".join(
    [
        "body{font-family:FONTS;max-width:860px;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.55}",
        "h1{font-size:1.6rem;margin-bottom:.2rem}",
        "h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}",
        ".meta{color:#555} .overall{font-size:2.4rem;font-weight:700;color:#3b6fd8}",
        "table{border-collapse:collapse;width:100%;margin:.6rem 0}",
        "td,th{border-bottom:1px solid #eee;padding:.35rem .5rem;text-align:left;vertical-align:top}",
        "th{background:#f6f7fb} .dots{color:#3b6fd8;letter-spacing:2px;white-space:nowrap}",
        ".flex{display:flex;gap:1.5rem;align-items:center;flex-wrap:wrap}",
        ".tip{background:#fff8e1;border-left:4px solid #c49a2e;padding:.6rem .9rem}",
        ".fallacy{background:#fdecea;border-left:4px solid #d8573b;padding:.4rem .8rem;margin:.3rem 0}",
        "svg{max-width:100%;height:auto} .radar{width:380px;max-width:100%} .progress{width:100%}",
        "td:first-child,th:first-child{white-space:nowrap}",
    ]
).replace("FONTS", _FONTS)


def to_html(
    cards: Sequence[Scorecard],
    rubric: Rubric | None = None,
    lang: str | None = None,
    title: str | None = None,
) -> str:
    """A self-contained HTML page: the latest scorecard with its radar chart, progress over time,
    and the earlier speeches. No external resources."""
    lg = _lang(cards, lang)
    t = _T[lg]
    e = html.escape
    ordered = _ordered(cards)
    parts = [
        "<!doctype html>",
        f'<html lang="{lg}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title or t['title'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title or t['title'])}</h1>",
    ]
    if not ordered:
        parts.append("<p>—</p></body></html>")
        return "\n".join(parts)
    latest = ordered[-1]
    rb = rubric or load(latest.rubric)
    parts.append(_card_html(latest, rb, lg, chart=True))
    if len(ordered) > 1:
        parts += [f"<h2>{t['progress']}</h2>", f'<div class="progress">{progress_svg(ordered, rb, lg)}</div>']
        parts += [f"<h2>{t['history']}</h2>", "<table><tr>", f"<th>{t['date']}</th>"]
        parts += [f"<th>{e(rb[d].name(lg))}</th>" for d in DIMENSIONS]
        parts.append(f"<th>{t['overall']}</th><th>{t['fallacies']}</th></tr>")
        for i, c in enumerate(reversed(ordered)):
            fal = ", ".join(NAMES[f.type][lg] for f in c.fallacies) or "—"
            cells = "".join(f"<td>{c.score(d)}</td>" for d in DIMENSIONS)
            label = _label(c, len(ordered) - 1 - i)
            parts.append(
                f"<tr><td>{e(label)}</td>{cells}<td>{c.overall_exact:.2f}</td><td>{e(fal)}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _card_html(card: Scorecard, rb: Rubric, lg: str, chart: bool) -> str:
    t = _T[lg]
    e = html.escape
    meta = []
    if card.motion:
        meta.append(f"{t['motion']}: <b>{e(card.motion)}</b>")
    if card.side:
        meta.append(f"{t['side']}: {e(t.get(card.side, card.side))}")
    if card.date:
        meta.append(e(card.date))
    rows = "".join(
        f"<tr><td>{e(rb[d].name(lg))}</td><td class=dots>{_dots(card.score(d))} {card.score(d)}</td>"
        f"<td>{e(card.scores[d].reason)}</td></tr>"
        for d in DIMENSIONS
    )
    fallacies = (
        "".join(
            f'<div class="fallacy"><b>{e(NAMES[f.type][lg])}</b> — “{e(f.sentence)}” '
            f"<small>({f.confidence:.2f})</small><br><small>{e(f.explanation(lg))}</small></div>"
            for f in card.fallacies
        )
        or f"<p>{t['none']}</p>"
    )
    unsupported = "".join(f"<li>{e(c)}</li>" for c in card.unsupported_claims)
    return "\n".join(
        [
            f'<p class="meta">{" · ".join(meta)}</p>',
            '<div class="flex">',
            f'<div><div class="overall">{card.overall}<small>/5</small></div>'
            f'<div class="meta">{t["overall"]} {card.overall_exact:.2f}</div></div>',
            f'<div class="radar">{radar_svg(card, rb, lg)}</div>' if chart else "",
            "</div>",
            f"<table><tr><th>{t['dimension']}</th><th>{t['score']}</th><th>{t['reason']}</th></tr>{rows}</table>",
            f"<h2>{t['fallacies']}</h2>{fallacies}",
            f"<h2>{t['unsupported']}</h2><ul>{unsupported}</ul>" if unsupported else "",
            f"<h2>{t['key_points']}</h2><p>{e(', '.join(card.key_points))}</p>" if card.key_points else "",
            f'<h2>{t["tip"]}</h2><div class="tip">{e(card.feedback)}</div>',
        ]
    )
