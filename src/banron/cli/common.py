"""What the ``banron`` commands share: the consoles, failing with a message, the runtime, a progress
bar, and reading and choosing what a debate starts from (a script, the motion, a side, a language)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.prompt import Prompt
from rich.table import Table

from banron import content
from banron.config import load_settings
from banron.domain import Lang, Motion, Side
from banron.kb.lang import detect_lang
from banron.runtime import Runtime

console = Console()
err = Console(stderr=True)

LlmOpt = Annotated[str | None, typer.Option(help="Chat backend: local, openai, fake.")]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` as an error and return the exit to raise: ``raise fail(...)``."""
    err.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


def runtime(llm: str | None = None) -> Runtime:
    """The runtime from the effective settings, with ``llm`` (a backend name) overriding the chat backend."""
    try:
        settings = load_settings()
    except ValueError as e:
        raise fail(str(e)) from None
    if llm:
        settings.llm.backend = llm
    return Runtime(settings)


def progress() -> Progress:
    """A transient progress bar on stderr, so stdout stays clean for JSON."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )


def read_script(path: Path) -> list[str]:
    """A student's speeches: JSONL lines ``{"text": ...}``, or paragraphs separated by blank lines."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise fail(f"cannot read script {path}: {e}") from None
    speeches: list[str] = []
    if path.suffix == ".jsonl":
        for lineno, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                text = obj["text"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise fail(f'{path}:{lineno}: expected a JSON object with "text"') from None
            if not isinstance(text, str) or not text.strip():
                raise fail(f"{path}:{lineno}: empty speech")
            speeches.append(text)
    else:
        speeches = [p.strip() for p in raw.replace("\r\n", "\n").split("\n\n") if p.strip()]
    if not speeches:
        raise fail(f"{path}: no speeches found")
    return speeches


def choose_motion(motion: str | None, kb: str | None, interactive: bool) -> Motion:
    """A bundled motion by id, the motion's own text (with ``kb``), or one picked from a table."""
    if motion:
        found = content.find_motion(motion)
        if found:
            return found
        if kb is None:
            ids = ", ".join(m.id for m in content.motions())
            raise fail(
                f"unknown motion {motion!r}. Bundled motions: {ids}. Use --kb NAME to debate your own."
            )
        lang = "ko" if detect_lang(motion) == "ko" else "en"
        return Motion(id="custom", text=motion.strip(), lang="ko" if lang == "ko" else "en")
    ms = content.motions()
    if not interactive:
        raise fail("--motion is required with --script")
    table = Table("#", "motion", "lang")
    for i, m in enumerate(ms, 1):
        table.add_row(str(i), m.text, m.lang)
    console.print(table)
    choice = Prompt.ask(
        "논제 번호 / motion number", choices=[str(i) for i in range(1, len(ms) + 1)], default="1"
    )
    return ms[int(choice) - 1]


def choose_side(side: str | None, motion: Motion, interactive: bool) -> Side:
    """The student's side from ``--side``, or asked for when interactive."""
    if side:
        try:
            return Side(side.lower())
        except ValueError:
            raise fail("--side must be pro or con") from None
    if not interactive:
        raise fail("--side is required with --script")
    ans = Prompt.ask(
        "당신의 입장 / your side (pro = 찬성, con = 반대)", choices=["pro", "con"], default="pro"
    )
    return Side(ans)


def choose_lang(lang: str | None, motion: Motion, first_speech: str | None) -> Lang:
    """The debate's language: ``--lang``, else the first scripted speech's, else the motion's."""
    if lang:
        if lang not in ("ko", "en"):
            raise fail("--lang must be ko or en")
        return "ko" if lang == "ko" else "en"
    if first_speech:  # a scripted student chooses the language by speaking it
        return "ko" if detect_lang(first_speech) == "ko" else "en"
    return motion.lang
