"""``banron judge``: score student speeches with ``banron.judge`` and print or report the scorecards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from banron import content
from banron.cli.common import console, err, fail, runtime
from banron.judge.fallacies import NAMES
from banron.judge.rubric import DIMENSIONS, RubricError, available
from banron.judge.scorecard import Scorecard
from banron.judge.speech import SpeechInput, SpeechJudge
from banron.llm import LLMError
from banron.util import atomic_write_text


def read_speeches(path: Path) -> list[SpeechInput]:
    """JSONL lines ``{"id", "motion", "side", "text"}`` (``date`` optional); ids default to line numbers."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise fail(f"cannot read {path}: {e}") from None
    out = []
    for lineno, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise fail(f"{path}:{lineno}: not JSON ({e.msg})") from None
        if not isinstance(obj, dict):
            raise fail(f"{path}:{lineno}: expected a JSON object")
        text = obj.get("text")
        if not isinstance(text, str) or not text.strip():
            raise fail(f'{path}:{lineno}: "text" must be a non-empty string')
        side = str(obj.get("side", "")).lower()
        if side not in ("pro", "con", ""):
            raise fail(f'{path}:{lineno}: "side" must be pro or con, not {side!r}')
        date = obj.get("date")
        out.append(
            SpeechInput(
                id=str(obj.get("id", lineno)),
                motion=str(obj.get("motion", "")),
                side=side,
                text=text,
                date=str(date) if date else None,
            )
        )
    if not out:
        raise fail(f"{path}: no speeches found")
    return out


def _print_card(card: Scorecard, rubric_names: dict[str, str]) -> None:
    ko = card.lang == "ko"
    console.rule(f"[bold]{escape(card.id)}[/] · {escape(card.motion)} · {card.side or '-'}")
    table = Table(
        "항목" if ko else "dimension", "점수" if ko else "score", "이유" if ko else "why", show_lines=False
    )
    for d in DIMENSIONS:
        s = card.score(d)
        table.add_row(
            rubric_names[d], f"[cyan]{'●' * s}{'○' * (5 - s)}[/] {s}", escape(card.scores[d].reason)
        )
    console.print(table)
    console.print(
        f"[bold]{'종합' if ko else 'overall'}: {card.overall}/5[/] [dim]({card.overall_exact:.2f})[/]"
    )
    lang = "ko" if ko else "en"
    if card.fallacies:
        for f in card.fallacies:
            console.print(
                f"[red]{'오류' if ko else 'fallacy'}[/] {NAMES[f.type][lang]} [dim]({f.confidence:.2f})[/]: "
                f"{escape(f.sentence)}"
            )
    for c in card.unsupported_claims:
        console.print(f"[yellow]{'근거 없는 주장' if ko else 'unsupported'}[/]: {escape(c)}")
    if card.key_points:
        console.print(f"[dim]{'핵심어' if ko else 'key points'}:[/] {escape(', '.join(card.key_points))}")
    console.print(f"[bold green]{'팁' if ko else 'tip'}:[/] {escape(card.feedback)}")


def judge(
    speeches: Annotated[
        Path | None,
        typer.Option("--speeches", help='JSONL, one {"id", "motion", "side", "text"} per line (+ "date").'),
    ] = None,
    debate: Annotated[
        str | None, typer.Option("--debate", help="Adjudicate a stored debate (see `banron debates list`).")
    ] = None,
    kb: Annotated[
        str | None, typer.Option("--kb", help="Check claims against this knowledge base's passages.")
    ] = None,
    rubric: Annotated[
        str, typer.Option(help=f"Rubric, by debate format: {', '.join(available())}.")
    ] = "free",
    llm: Annotated[
        str | None,
        typer.Option(help="Have this chat backend (local, openai, fake) write the tip; templates otherwise."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON scorecard per line.")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="Also write an HTML report (charts).")] = None,
    markdown: Annotated[Path | None, typer.Option("--md", help="Also write a Markdown report.")] = None,
) -> None:
    """Score student speeches: rubric 1-5 with reasons, fallacies, unsupported claims, key points, a tip.

    With --debate ID: the verdict on a stored debate (winner, the clashes that decided it, what was
    dropped, per-side totals, next steps)."""
    if (speeches is None) == (debate is None):
        raise fail("give either --speeches FILE or --debate ID")
    if debate is not None:
        _adjudicate(debate, llm, as_json=as_json, html=html, markdown=markdown)
        return
    assert speeches is not None
    items = read_speeches(speeches)
    rt = runtime(llm)
    retriever = None
    if kb:
        if kb == content.BUNDLED_KB:
            rt.ensure_bundled()
        if not rt.index.has_kb(kb):
            raise fail(f"no knowledge base named {kb!r}; see `banron kb list`")
        retriever = rt.retriever
    backend = None
    if llm:
        try:
            backend = rt.llm()
        except (ValueError, LLMError) as e:
            raise fail(str(e)) from None
    try:
        judge_ = SpeechJudge(
            rt.embedder,
            rt.tokenizer,
            rt.cache,
            rubric_name=rubric,
            retriever=retriever,
            kbs=[kb] if kb else [],
            llm=backend,
        )
    except RubricError as e:
        raise fail(str(e)) from None
    names = {d.id: d.label("ko") for d in judge_.rubric.dimensions}
    cards = []
    for item in items:
        card = judge_.judge(item)
        cards.append(card)
        if as_json:
            print(json.dumps(card.to_dict(), ensure_ascii=False), flush=True)
        else:
            labels = names if card.lang == "ko" else {d.id: d.label("en") for d in judge_.rubric.dimensions}
            _print_card(card, labels)
    from banron.judge import report

    if html:
        atomic_write_text(html, report.to_html(cards, judge_.rubric))
        err.print(f"[dim]wrote {html}[/]")
    if markdown:
        atomic_write_text(markdown, report.to_markdown(cards, judge_.rubric))
        err.print(f"[dim]wrote {markdown}[/]")


def _adjudicate(
    debate_id: str, llm: str | None, *, as_json: bool, html: Path | None, markdown: Path | None
) -> None:
    from banron.judge import report
    from banron.judge.adjudicate import adjudicate
    from banron.store import open_store

    rt = runtime(llm)
    store = open_store(rt.settings)
    record = store.get_debate(debate_id)
    if record is None:
        raise fail(f"no debate {debate_id!r}; see `banron debates list`")
    turns = store.turns(record.id)
    if not any(t.part == "speech" for t in turns):
        raise fail(f"debate {debate_id} has no speeches to judge yet")
    try:
        judge_ = SpeechJudge(rt.embedder, rt.tokenizer, rt.cache, rubric_name=record.format)
    except RubricError:
        judge_ = SpeechJudge(rt.embedder, rt.tokenizer, rt.cache)
    lang = record.lang or (record.motion.lang if record.motion else "ko")
    verdict = adjudicate(
        turns, judge_, motion=record.motion_text, student_side=record.student_side, lang=lang
    )
    if as_json:
        print(json.dumps({"debate": record.id, **verdict.to_dict()}, ensure_ascii=False))
    else:
        ko = lang == "ko"
        console.rule(f"[bold]{escape(record.motion_text)}[/] · {record.format}")
        points = " · ".join(f"{s.label(lang)} {p:.1f}" for s, p in verdict.points.items())
        console.print(
            f"[bold]{'승리' if ko else 'winner'}: {verdict.winner.label(lang)}[/]  [dim]({points})[/]"
        )
        for r in verdict.reasons:
            console.print(f"  • {escape(r)}")
        console.print(f"[bold green]{'다음에 연습할 것' if ko else 'next steps'}:[/]")
        for i, step in enumerate(verdict.next_steps, 1):
            console.print(f"  {i}. {escape(step)}")
    student_cards = [c for t, c in verdict.cards if t.side is record.student_side]
    if html:
        atomic_write_text(html, report.to_html(student_cards, judge_.rubric))
        err.print(f"[dim]wrote {html}[/]")
    if markdown:
        atomic_write_text(
            markdown, verdict.to_markdown() + "\n\n" + report.to_markdown(student_cards, judge_.rubric)
        )
        err.print(f"[dim]wrote {markdown}[/]")
