"""``banron spar``, ``banron debate`` and ``banron formats``: debating in a format, scripted or live."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from banron import content
from banron.cli.common import (
    LlmOpt,
    choose_lang,
    choose_motion,
    choose_side,
    console,
    err,
    fail,
    read_script,
    runtime,
)
from banron.debate.engine import DebateEngine
from banron.debate.formats import FormatError, formats, get_format
from banron.debate.terminal import run_interactive, run_script
from banron.llm import LLMError
from banron.store import open_store

_ScriptOpt = Annotated[
    Path | None,
    typer.Option(help="The student's speeches, in phase order: JSONL ({'text': ...}) or paragraphs."),
]
_JsonOpt = Annotated[bool, typer.Option("--json", help="With --script: one JSON object per speech.")]
_MotionOpt = Annotated[str | None, typer.Option(help="Bundled motion id, or the motion's text with --kb.")]
_SideOpt = Annotated[str | None, typer.Option(help="Your side: pro or con. banron takes the other.")]
_KbOpt = Annotated[
    str | None, typer.Option(help="Argue from this knowledge base instead of the bundled pack.")
]
_LangOpt = Annotated[str | None, typer.Option(help="Debate language: ko or en (default: the motion's).")]


def _run_debate(
    *,
    format_id: str,
    motion: str | None,
    side: str | None,
    llm: str | None,
    kb: str | None,
    lang: str | None,
    script: Path | None,
    as_json: bool,
    exhibition: bool = False,
    resume: str | None = None,
) -> None:
    interactive = script is None and not exhibition
    if as_json and script is None and not exhibition:
        raise fail("--json needs --script (or --exhibition)")
    rt = runtime(llm)
    store = open_store(rt.settings)
    speeches = read_script(script) if script else []
    with err.status("근거 자료 준비 중 / preparing evidence…"):
        rt.ensure_bundled()
    try:
        if resume:
            if store.get_debate(resume) is None:
                raise fail(f"no debate {resume!r}; see `banron debates list`")
            engine = DebateEngine.resume(rt, store, resume)
        else:
            fmt = get_format(format_id)
            the_motion = choose_motion(motion, kb, interactive)
            the_side = choose_side(side, the_motion, interactive)
            kbs = [kb] if kb else [content.BUNDLED_KB]
            if kb and not rt.index.has_kb(kb):
                raise fail(
                    f"no knowledge base named {kb!r}; add documents with `banron kb add PATH --kb {kb}`"
                )
            engine = DebateEngine.create(
                rt,
                fmt=fmt,
                motion=the_motion,
                student_side=the_side,
                lang=choose_lang(lang, the_motion, speeches[0] if speeches else None),
                kbs=kbs,
                store=store,
                exhibition=exhibition,
            )
    except (FormatError, ValueError, LLMError) as e:
        raise fail(str(e)) from None
    try:
        if script or exhibition:
            run_script(engine, speeches, console, as_json=as_json)
            if not as_json and engine.record:
                console.print(f"[dim]saved as debate {engine.record.id}[/]")
        else:
            run_interactive(engine, console)
    except LLMError as e:
        done = len(engine.turns)
        raise fail(
            f"the model failed: {e}. The {done} completed turns are saved; resume with "
            f"`banron debate --resume {engine.record.id if engine.record else ''}`."
        ) from None


def spar(
    motion: _MotionOpt = None,
    side: _SideOpt = None,
    llm: LlmOpt = None,
    kb: _KbOpt = None,
    lang: _LangOpt = None,
    script: _ScriptOpt = None,
    as_json: _JsonOpt = False,
) -> None:
    """Free sparring: you speak, banron rebuts each claim with cited evidence (format `free`)."""
    _run_debate(
        format_id="free", motion=motion, side=side, llm=llm, kb=kb, lang=lang, script=script, as_json=as_json
    )


def debate(
    format_id: Annotated[str, typer.Option("--format", help="Format id (see `banron formats`).")] = "ceda",
    motion: _MotionOpt = None,
    side: _SideOpt = None,
    llm: LlmOpt = None,
    kb: _KbOpt = None,
    lang: _LangOpt = None,
    script: _ScriptOpt = None,
    as_json: _JsonOpt = False,
    exhibition: Annotated[
        bool,
        typer.Option(
            "--exhibition", help="banron argues both sides (a demo; --side names 'pro' speaker's side)."
        ),
    ] = False,
    resume: Annotated[str | None, typer.Option(help="Continue a stored debate by id.")] = None,
) -> None:
    """A whole debate in a format (CEDA, Lincoln-Douglas, drill...): timeline, cross-examination, flow."""
    if exhibition and side is None:
        side = "pro"
    _run_debate(
        format_id=format_id,
        motion=motion,
        side=side,
        llm=llm,
        kb=kb,
        lang=lang,
        script=script,
        as_json=as_json,
        exhibition=exhibition,
        resume=resume,
    )


def formats_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The debate formats banron runs, with their phases."""
    found = formats()
    if as_json:
        print(json.dumps([f.to_dict() for f in found.values()], ensure_ascii=False))
        return
    for f in found.values():
        table = Table(
            "phase", "side", "kind", "time", "words", "prep", title=f"{f.id}: {f.name_ko} / {f.name_en}"
        )
        for p in f.phases:
            table.add_row(
                f"{p.name_ko} / {p.name_en}", p.speaker, p.kind, f"{p.time_s}s", str(p.words), f"{p.prep_s}s"
            )
        console.print(table)
