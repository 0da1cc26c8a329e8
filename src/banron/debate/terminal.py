"""Running a debate in the terminal: phase timeline, timers, streamed speeches, the flow sheet.

Only rendering and input live here; the rules of the debate are the engine's.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from banron.debate.engine import DebateEngine, Slot
from banron.debate.flow import Flow
from banron.debate.formats import Format
from banron.debate.transcript import to_markdown
from banron.domain import Turn
from banron.llm import LLMError
from banron.util import atomic_write_text


def turn_json(turn: Turn) -> dict[str, object]:
    """One speech as `banron debate --json` prints it."""
    return {
        "phase": turn.phase,
        "part": turn.part,
        "speaker": turn.speaker,
        "side": turn.side.value,
        "lang": turn.lang,
        "text": turn.text,
        "citations": [c.to_dict() for c in turn.citations],
        "claims": [c.to_dict() for c in turn.claims],
        "warnings": turn.warnings,
    }


def flow_table(flow: Flow, lang: str, fmt: Format | None = None) -> Table:
    """The flow sheet: one column per speech, one row per argument thread; dropped claims marked."""
    names = {p.id: p.name(lang) for p in fmt.phases} if fmt else {}
    table = Table(title="플로 시트 / flow", show_lines=True)
    for c in flow.columns:
        table.add_column(f"{c.turn_n}. {names.get(c.phase, c.phase or c.speaker)}\n({c.side.label(lang)})")
    _, rows = flow.sheet(width=48)
    for cells in rows:
        table.add_row(*(escape(cell).replace("✗dropped", "[bold red]✗ dropped[/]") for cell in cells))
    return table


def timeline(engine: DebateEngine, lang: str) -> Table:
    table = Table("#", "phase", "side", "time", "words", box=None, pad_edge=False)
    current = engine.slot
    for i, p in enumerate(engine.fmt.phases):
        here = current is not None and current.phase.id == p.id
        mark = (
            "▶" if here else ("✓" if current is None or i < engine.fmt.phases.index(current.phase) else " ")
        )
        side = p.side_of_speaker(engine.student_side).label(lang)
        table.add_row(mark, p.name(lang), side, f"{p.time_s // 60}:{p.time_s % 60:02d}", str(p.words))
    return table


def print_evidence(console: Console, turn: Turn) -> None:
    if not turn.citations:
        console.print("[dim](인용 없음 / no citations)[/]")
        return
    for c in turn.citations:
        console.print(
            f"  [bold cyan][{c.n}][/] {escape(c.title)} [dim]— {escape(c.source)} ({c.kb}:{c.passage_id})[/]"
        )
        console.print(f"      [italic]{escape(c.quote[:400])}[/]")


def stream_banron(engine: DebateEngine, console: Console, *, quiet: bool = False) -> Iterator[Turn]:
    """Run banron's due turns, streaming text to the console; yields each stored turn."""
    while (slot := engine.slot) is not None and slot.speaker == "banron":
        if not quiet:
            _phase_header(console, engine, slot)
            console.print(f"[bold magenta]banron ({slot.side.label(engine.lang)})[/] ", end="")
        for item in engine.speak():
            if isinstance(item, Turn):
                if not quiet:
                    console.print()
                    print_evidence(console, item)
                yield item
            elif not quiet:
                console.print(escape(item), end="", soft_wrap=True)
                sys.stdout.flush()


def _phase_header(console: Console, engine: DebateEngine, slot: Slot) -> None:
    lang = engine.lang
    part = {"question": " · 질문 / questions", "answer": " · 답변 / answers"}.get(slot.part, "")
    console.rule(
        f"[bold]{escape(slot.phase.name(lang))}{part}[/] — {slot.side.label(lang)} · "
        f"{slot.phase.time_s // 60}:{slot.phase.time_s % 60:02d} · {slot.phase.words} words"
    )
    if slot.part != "answer":
        console.print(f"[dim]{escape(slot.phase.purpose(lang))}[/]")


_HELP = (
    "/flow 플로 시트 · /timeline 진행 순서 · /evidence 인용 자료 · /save 저장 · /quit 종료(나중에 이어하기)"
    " — 한 번에 입력하고 Enter"
)


def run_interactive(engine: DebateEngine, console: Console, read: Callable[[str], str] | None = None) -> None:
    """The whole debate at the keyboard. Quitting keeps everything said so far; `--resume` goes on."""
    read = read or (lambda prompt: console.input(prompt))
    lang = engine.lang
    console.rule(f"[bold]{escape(engine.motion.text_in(lang))}[/]")
    console.print(
        f"{escape(engine.fmt.name(lang))} · 당신/you: [bold]{engine.student_side.label(lang)}[/] · "
        f"banron: [bold]{engine.banron_side.label(lang)}[/]"
    )
    console.print(timeline(engine, lang))
    console.print(f"[dim]{_HELP}[/]")
    last_banron: Turn | None = next((t for t in reversed(engine.turns) if t.speaker == "banron"), None)
    current, started = -1, time.monotonic()
    while engine.slot is not None:
        try:
            for turn in stream_banron(engine, console):
                last_banron = turn
        except LLMError as e:
            console.print(f"\n[red]the model failed: {escape(str(e))}[/] — nothing was saved for this turn.")
            if read("다시 시도하려면 Enter, 그만두려면 /quit ▶ ").strip() == "/quit":
                break
            continue
        slot = engine.slot
        if slot is None:
            break
        if slot.index != current:  # a new slot: its header, its preparation time, its clock
            current = slot.index
            _phase_header(console, engine, slot)
            if slot.phase.prep_s and slot.part != "answer":
                prep_started = time.monotonic()
                read(f"[dim]준비 시간 {slot.phase.prep_s}초 / prep time — 준비되면 Enter[/] ")
                used = time.monotonic() - prep_started
                if used > slot.phase.prep_s:
                    console.print(f"[yellow]준비 시간을 {int(used - slot.phase.prep_s)}초 넘겼습니다.[/]")
            started = time.monotonic()
        try:
            text = read("\n[bold green]you ▶ [/]")
        except (EOFError, KeyboardInterrupt):
            console.print()
            break
        cmd = text.strip()
        if not cmd:
            continue
        if cmd in ("/quit", "/exit", "/q"):
            break
        if cmd == "/help":
            console.print(f"[dim]{_HELP}[/]")
        elif cmd == "/flow":
            console.print(flow_table(engine.flow, lang, engine.fmt))
        elif cmd == "/timeline":
            console.print(timeline(engine, lang))
        elif cmd == "/evidence":
            if last_banron:
                print_evidence(console, last_banron)
        elif cmd.startswith("/save"):
            rid = engine.record.id if engine.record else "debate"
            target = Path(cmd[5:].strip() or f"banron-{rid}.md")
            atomic_write_text(
                target, to_markdown(engine.record, engine.motion.text, engine.turns, engine.flow)
            )
            console.print(f"[dim]saved {target}[/]")
        elif cmd.startswith("/"):
            console.print(f"[yellow]unknown command {escape(cmd)}[/] — {_HELP}")
        else:
            turn = engine.submit(text, elapsed_s=time.monotonic() - started)
            for w in turn.warnings:
                console.print(f"[yellow]⚠ {escape(w)}[/]")
    if engine.slot is None:
        console.print(flow_table(engine.flow, lang, engine.fmt))
        dropped = engine.flow.dropped()
        if dropped:
            console.print(f"[bold]답하지 않은 논점 / dropped:[/] {', '.join(e.id for e in dropped)}")
    elif engine.fmt.repeat:
        engine.end()
    if engine.record is not None:
        state = "finished" if engine.slot is None or engine.fmt.repeat else "paused"
        console.print(
            f"[dim]debate {engine.record.id} {state}"
            + (f" — continue with `banron debate --resume {engine.record.id}`" if state == "paused" else "")
            + "[/]"
        )


def run_script(engine: DebateEngine, speeches: list[str], console: Console, *, as_json: bool) -> None:
    """A whole debate with the student's speeches from a script, in phase order."""
    queue = list(speeches)

    def emit(turn: Turn) -> None:
        if as_json:
            print(json.dumps(turn_json(turn), ensure_ascii=False), flush=True)

    for turn in stream_banron(engine, console, quiet=as_json):
        emit(turn)
    while (slot := engine.slot) is not None and queue:
        if not as_json:
            _phase_header(console, engine, slot)
        turn = engine.submit(queue.pop(0))
        emit(turn)
        if not as_json:
            console.print(f"[bold green]you[/] {escape(turn.text)}")
            for w in turn.warnings:
                console.print(f"[yellow]⚠ {escape(w)}[/]")
        for turn in stream_banron(engine, console, quiet=as_json):
            emit(turn)
    if engine.fmt.repeat:
        engine.end()
    if as_json:
        print(json.dumps({"flow": engine.flow.to_dict()}, ensure_ascii=False), flush=True)
    else:
        console.print(flow_table(engine.flow, engine.lang, engine.fmt))
