"""The ``banron`` command: thin Typer commands that wire settings to the core and render results."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.prompt import Prompt
from rich.table import Table

from banron import __version__, content
from banron.config import load_settings
from banron.debate.opponent import Opponent
from banron.debate.spar import SparSession
from banron.debate.transcript import to_json, to_markdown
from banron.domain import Motion, Side, Turn
from banron.kb.index import maintenance
from banron.kb.ingest import IngestReport
from banron.kb.lang import detect_lang
from banron.llm import LLMError
from banron.runtime import Runtime
from banron.store.sqlite import DebateStore
from banron.util import atomic_write_text

app = typer.Typer(
    help="반론 banron — a debate sparring partner that rebuts with cited evidence.", no_args_is_help=True
)
kb_app = typer.Typer(help="Knowledge bases: add, list and remove documents; search.", no_args_is_help=True)
config_app = typer.Typer(help="Settings.", no_args_is_help=True)
debates_app = typer.Typer(help="Your stored debates: list, show, export.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
app.add_typer(config_app, name="config")
app.add_typer(debates_app, name="debates")

console = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


def _runtime(llm: str | None = None) -> Runtime:
    try:
        settings = load_settings()
    except ValueError as e:
        raise _fail(str(e)) from None
    if llm:
        settings.llm.backend = llm
    return Runtime(settings)


@app.callback(invoke_without_command=True)
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        console.print(f"banron {__version__}")
        raise typer.Exit()


# -- config -----------------------------------------------------------------------------------
@config_app.command("show")
def config_show(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Print the effective settings (environment, config.toml, defaults) with secrets masked."""
    rt = _runtime()
    data = rt.settings.masked()
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    found = "found" if rt.settings.config_file.exists() else "absent"
    console.print(f"[dim]config file: {rt.settings.config_file} ({found})[/]")

    def walk(prefix: str, obj: Any) -> None:
        for k, v in obj.items():
            if isinstance(v, dict):
                walk(f"{prefix}{k}.", v)
            else:
                console.print(f"{prefix}{k} = {escape(json.dumps(v, ensure_ascii=False))}")

    walk("", data)


# -- motions ----------------------------------------------------------------------------------
@app.command("motions")
def motions_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the bundled motions."""
    ms = content.motions()
    if as_json:
        print(json.dumps([m.__dict__ for m in ms], ensure_ascii=False, indent=2))
        return
    table = Table("id", "lang", "motion")
    for m in ms:
        table.add_row(m.id, m.lang, m.text)
    console.print(table)


# -- kb ---------------------------------------------------------------------------------------
def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )


def _ingest_with_progress(rt: Runtime, kb: str, paths: list[Path], processes: int) -> IngestReport:
    with _progress() as bar:
        task = bar.add_task("embedding", total=None)
        return rt.ingestor(processes=processes).add_paths(
            kb,
            paths,
            progress=lambda n: bar.advance(task, n),
            on_total=lambda n: bar.update(task, total=n),
        )


@kb_app.command("add")
def kb_add(
    paths: Annotated[
        list[Path], typer.Argument(help="Files or folders (.pdf, .docx, .html, .htm, .txt, .md, .jsonl).")
    ],
    kb: Annotated[str, typer.Option("--kb", help="Knowledge base name.")] = "default",
    processes: Annotated[int, typer.Option(help="Embedding processes (1 per core helps).")] = 1,
) -> None:
    """Add documents to a knowledge base; unchanged files are skipped, changed ones replaced.

    Documents a re-added file no longer yields are removed; a moved or renamed file keeps its
    documents. A file that cannot be read is reported and the rest still go in."""
    rt = _runtime()
    report = _ingest_with_progress(rt, kb, paths, processes)
    extra = f", {report.documents_removed} removed" if report.documents_removed else ""
    extra += f", {report.files_moved} files moved" if report.files_moved else ""
    console.print(
        f"[bold]{kb}[/]: {report.documents_added} added, {report.documents_updated} updated, "
        f"{report.documents_unchanged} unchanged{extra}, {report.passages_written} passages written"
    )
    for path, message in report.errors:
        shown = message if message.startswith(path) else f"{path}: {message}"  # loader errors name the file
        err.print(f"[yellow]skipped[/] {escape(shown)}")
    if report.errors and not (
        report.documents_added or report.documents_updated or report.documents_unchanged
    ):
        raise typer.Exit(1)


@kb_app.command("list")
def kb_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List knowledge bases with document and passage counts."""
    rt = _runtime()
    rt.ensure_bundled()
    infos = rt.index.list_kbs()
    if as_json:
        print(json.dumps([i.__dict__ for i in infos], ensure_ascii=False))
        return
    table = Table("kb", "documents", "passages", "languages", "stances")
    for i in infos:
        table.add_row(
            i.name,
            str(i.documents),
            str(i.passages),
            ", ".join(f"{k} {v}" for k, v in sorted(i.langs.items())),
            ", ".join(f"{k} {v}" for k, v in sorted(i.stances.items())),
        )
    console.print(table)


@kb_app.command("docs")
def kb_docs(
    kb: Annotated[str, typer.Option("--kb", help="Knowledge base name.")] = "default",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the documents of a knowledge base with their source and passage count."""
    rt = _runtime()
    if not rt.index.has_kb(kb):
        raise _fail(f"no knowledge base named {kb!r}; see `banron kb list`")
    docs = maintenance.list_documents(rt.index.path, kb)
    if as_json:
        print(json.dumps([d.__dict__ for d in docs], ensure_ascii=False))
        return
    table = Table("document", "passages", "source", "added")
    for d in docs:
        table.add_row(escape(d.doc_id), str(d.passages), escape(d.source), d.added_at)
    console.print(table)


@kb_app.command("rm")
def kb_rm(
    target: Annotated[str, typer.Argument(help="A document id (see `kb docs`) or a file that was added.")],
    kb: Annotated[str, typer.Option("--kb", help="Knowledge base name.")] = "default",
) -> None:
    """Remove a document, or every document added from a file, with their passages."""
    rt = _runtime()
    if not rt.index.has_kb(kb):
        raise _fail(f"no knowledge base named {kb!r}; see `banron kb list`")
    keys = dict.fromkeys([target, str(Path(target).expanduser().resolve())])
    removed = sorted({doc for key in keys for doc in maintenance.remove_documents(rt.index.path, kb, key)})
    if not removed:
        raise _fail(f"nothing in {kb!r} matches {target!r}; see `banron kb docs --kb {kb}`")
    console.print(f"[bold]{kb}[/]: removed {len(removed)} document{'s' if len(removed) != 1 else ''}")
    for doc_id in removed:
        console.print(f"  {escape(doc_id)}")


@kb_app.command("drop")
def kb_drop(
    name: Annotated[str, typer.Argument(help="Knowledge base to delete with all its documents.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a whole knowledge base."""
    rt = _runtime()
    if not rt.index.has_kb(name):
        raise _fail(f"no knowledge base named {name!r}; see `banron kb list`")
    if not yes and not typer.confirm(f"Delete knowledge base {name!r} and all its documents?"):
        raise typer.Exit(1)
    rt.index.delete_kb(name)
    console.print(f"deleted knowledge base [bold]{escape(name)}[/]")


@kb_app.command("search")
def kb_search(
    query: Annotated[str, typer.Argument(help="What to look for, in Korean or English.")],
    kb: Annotated[str, typer.Option("--kb", help="Knowledge base name.")] = content.BUNDLED_KB,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=1000)] = 10,
    mode: Annotated[str, typer.Option(help="hybrid, lexical or dense.")] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search a knowledge base (hybrid lexical + dense by default)."""
    rt = _runtime()
    if kb == content.BUNDLED_KB:
        rt.ensure_bundled()
    if not rt.index.has_kb(kb):
        raise _fail(f"no knowledge base named {kb!r}; see `banron kb list`")
    if mode not in ("hybrid", "lexical", "dense"):
        raise _fail("--mode must be hybrid, lexical or dense")
    hits = rt.retriever.search(query, [kb], top_k=top_k, mode=mode)  # type: ignore[arg-type]
    if as_json:
        out = [
            {
                "id": h.passage.id,
                "score": round(h.score, 6),
                "title": h.passage.title,
                "text": h.passage.text,
                "stance": h.passage.stance,
                "lang": h.passage.lang,
            }
            for h in hits
        ]
        print(json.dumps(out, ensure_ascii=False))
        return
    for i, h in enumerate(hits, 1):
        p = h.passage
        console.print(
            f"[bold]{i}. {escape(p.title or p.id)}[/] [dim]{p.id} · {p.stance} · {p.lang} · {h.score:.4f}[/]"
        )
        console.print(f"   {escape(' '.join(p.text.split())[:300])}")


# -- spar -------------------------------------------------------------------------------------
def _read_script(path: Path) -> list[str]:
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise _fail(f"cannot read script {path}: {e}") from None
    speeches: list[str] = []
    if path.suffix == ".jsonl":
        for lineno, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                text = obj["text"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise _fail(f'{path}:{lineno}: expected a JSON object with "text"') from None
            if not isinstance(text, str) or not text.strip():
                raise _fail(f"{path}:{lineno}: empty speech")
            speeches.append(text)
    else:
        speeches = [p.strip() for p in raw.replace("\r\n", "\n").split("\n\n") if p.strip()]
    if not speeches:
        raise _fail(f"{path}: no speeches found")
    return speeches


def _choose_motion(motion: str | None, kb: str | None, interactive: bool) -> Motion:
    if motion:
        found = content.find_motion(motion)
        if found:
            return found
        if kb is None:
            ids = ", ".join(m.id for m in content.motions())
            raise _fail(
                f"unknown motion {motion!r}. Bundled motions: {ids}. Use --kb NAME to debate your own."
            )
        lang = "ko" if detect_lang(motion) == "ko" else "en"
        return Motion(id="custom", text=motion.strip(), lang="ko" if lang == "ko" else "en")
    ms = content.motions()
    if not interactive:
        raise _fail("--motion is required with --script")
    table = Table("#", "motion", "lang")
    for i, m in enumerate(ms, 1):
        table.add_row(str(i), m.text, m.lang)
    console.print(table)
    choice = Prompt.ask(
        "논제 번호 / motion number", choices=[str(i) for i in range(1, len(ms) + 1)], default="1"
    )
    return ms[int(choice) - 1]


def _choose_side(side: str | None, motion: Motion, interactive: bool) -> Side:
    if side:
        try:
            return Side(side.lower())
        except ValueError:
            raise _fail("--side must be pro or con") from None
    if not interactive:
        raise _fail("--side is required with --script")
    ans = Prompt.ask(
        "당신의 입장 / your side (pro = 찬성, con = 반대)", choices=["pro", "con"], default="pro"
    )
    return Side(ans)


def _print_evidence(turn: Turn) -> None:
    if not turn.citations:
        console.print("[dim](인용 없음 / no citations)[/]")
        return
    for c in turn.citations:
        console.print(
            f"  [bold cyan][{c.n}][/] {escape(c.title)} [dim]— {escape(c.source)} ({c.kb}:{c.passage_id})[/]"
        )
        console.print(f"      [italic]{escape(c.quote[:400])}[/]")


@app.command("spar")
def spar(
    motion: Annotated[
        str | None, typer.Option(help="Bundled motion id, or the motion's text with --kb.")
    ] = None,
    side: Annotated[str | None, typer.Option(help="Your side: pro or con. banron takes the other.")] = None,
    llm: Annotated[str | None, typer.Option(help="Chat backend: local, openai, fake.")] = None,
    kb: Annotated[
        str | None, typer.Option(help="Argue from this knowledge base instead of the bundled pack.")
    ] = None,
    script: Annotated[
        Path | None, typer.Option(help="Read speeches from JSONL ({'text':...}) or paragraphs.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="With --script: one JSON object per turn.")] = False,
) -> None:
    """Spar on a motion: you speak, banron rebuts each claim with cited evidence."""
    interactive = script is None
    if as_json and interactive:
        raise _fail("--json needs --script")
    rt = _runtime(llm)
    speeches = _read_script(script) if script else []
    with err.status("근거 자료 준비 중 / preparing evidence…"):
        rt.ensure_bundled()
    the_motion = _choose_motion(motion, kb, interactive)
    the_side = _choose_side(side, the_motion, interactive)
    kbs = [kb] if kb else [content.BUNDLED_KB]
    if kb and not rt.index.has_kb(kb):
        raise _fail(f"no knowledge base named {kb!r}; add documents with `banron kb add PATH --kb {kb}`")
    # Restrict to the motion's passages only when the knowledge base labels passages with it.
    motion_filter = the_motion.id if any(rt.index.stance_counts(k, the_motion.id) for k in kbs) else None
    try:
        backend = rt.llm()
    except (ValueError, LLMError) as e:
        raise _fail(str(e)) from None
    opponent = Opponent(
        retriever=rt.retriever,
        motion=the_motion,
        side=the_side.opposite,
        kbs=kbs,
        settings=rt.settings.debate,
        llm=backend,
        motion_filter=motion_filter,
        temperature=rt.settings.llm.temperature,
        max_tokens=rt.settings.llm.max_tokens,
    )
    store = DebateStore(rt.settings.home / "debates.sqlite")
    session = SparSession.start(the_motion, the_side, opponent, store)
    if script:
        for speech in speeches:
            _run_exchange(session, speech, as_json=as_json, stream=not as_json)
        if not as_json and session.record:
            console.print(f"[dim]saved as debate {session.record.id}[/]")
        return
    _interactive(session)


def _run_exchange(session: SparSession, speech: str, *, as_json: bool, stream: bool) -> Turn | None:
    last: Turn | None = None
    started = False
    label = session.banron_side.label(detect_lang(speech))
    try:
        for item in session.exchange(speech):
            if isinstance(item, Turn):
                last = item
                if as_json:
                    print(json.dumps(item.to_dict(), ensure_ascii=False), flush=True)
                elif item.speaker == "banron":
                    console.print()
                    _print_evidence(item)
            elif stream:
                if not started:
                    console.print(f"[bold magenta]banron ({label})[/] ", end="")
                    started = True
                console.print(escape(item), end="", soft_wrap=True)
                sys.stdout.flush()
    except LLMError as e:
        err.print(f"\n[red]the model failed: {escape(str(e))}[/] — your speech is saved; try again.")
        return None
    return last


_HELP = "/evidence 인용 자료 보기 · /save 마크다운 저장 · /quit 종료 — 빈 줄 없이 한 번에 입력하고 Enter"


def _interactive(session: SparSession) -> None:
    m = session.motion
    console.rule(f"[bold]{escape(m.text)}[/]")
    console.print(
        f"당신: [bold]{session.student_side.label('ko')}[/] ({session.student_side.value}) · "
        f"banron: [bold]{session.banron_side.label('ko')}[/] ({session.banron_side.value})"
    )
    console.print(f"[dim]{_HELP}[/]")
    last_banron: Turn | None = None
    while True:
        try:
            text = console.input("\n[bold green]you ▶ [/]")
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
            continue
        if cmd == "/evidence":
            if last_banron:
                _print_evidence(last_banron)
            else:
                console.print("[dim]아직 banron의 발언이 없습니다 / no rebuttal yet[/]")
            continue
        if cmd.startswith("/save"):
            target = Path(cmd[5:].strip() or f"banron-{session.record.id if session.record else 'debate'}.md")
            atomic_write_text(target, session.to_markdown())
            console.print(f"[dim]saved {target}[/]")
            continue
        if cmd.startswith("/"):
            console.print(f"[yellow]unknown command {escape(cmd)}[/] — {_HELP}")
            continue
        try:
            turn = _run_exchange(session, text, as_json=False, stream=True)
        except KeyboardInterrupt:
            console.print("\n[yellow]interrupted — your speech is saved; the rebuttal was discarded[/]")
            continue
        if turn is not None:
            last_banron = turn
    if session.record:
        console.print(
            f"[dim]debate {session.record.id} saved under {session.store.path if session.store else ''}[/]"
        )


# -- eval -------------------------------------------------------------------------------------
eval_app = typer.Typer(help="Measure banron: retrieval quality on BEIR datasets.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


@eval_app.command("retrieval")
def eval_retrieval(
    beir: Annotated[Path, typer.Option(help="BEIR folder: corpus.jsonl[.gz], queries.jsonl, qrels/.")],
    mode: Annotated[str, typer.Option(help="lexical, dense, hybrid, hybrid+stance or all.")] = "all",
    processes: Annotated[int | None, typer.Option(min=1, help="Embedding processes [default: CPUs].")] = None,
    limit_queries: Annotated[int | None, typer.Option(min=1, help="Only the first N queries.")] = None,
    ignore_identical_ids: Annotated[
        bool, typer.Option(help="Drop hits whose id is the query's id (ArguAna), before cutting to k.")
    ] = False,
    chunk_tokens: Annotated[int | None, typer.Option(min=16, help="Chunk limit [embedder's].")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the results here.")] = None,
) -> None:
    """Index a BEIR dataset with banron's own pipeline and report nDCG@10, Recall@10/100, MRR@10."""
    from banron.evaluation import BeirError, evaluate_retrieval, load_beir, render, write_json

    rt = _runtime()
    try:
        dataset = load_beir(beir, limit_queries=limit_queries)
        report = evaluate_retrieval(
            dataset,
            modes=[mode],
            settings=rt.settings,
            processes=processes,
            chunk_tokens=chunk_tokens,
            ignore_identical_ids=ignore_identical_ids,
            console=err,
        )
    except BeirError as e:
        raise _fail(str(e)) from None
    console.print(render(report))
    for note in report.notes:
        err.print(f"[dim]{escape(note)}[/]")
    if json_out:
        write_json(report, json_out)
        console.print(f"[dim]wrote {json_out}[/]")


# -- debates ----------------------------------------------------------------------------------
def _debate_store() -> DebateStore:
    return DebateStore(_runtime().settings.home / "debates.sqlite")


@debates_app.command("list")
def debates_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Stored debates, newest first."""
    rows = _debate_store().list_debates()
    if as_json:
        out = [
            {
                "id": r.id,
                "motion": r.motion_text,
                "student_side": r.student_side.value,
                "created_at": r.created_at,
                "turns": n,
            }
            for r, n in rows
        ]
        print(json.dumps(out, ensure_ascii=False))
        return
    table = Table("id", "created", "motion", "you", "turns")
    for r, n in rows:
        table.add_row(r.id, r.created_at, r.motion_text, r.student_side.value, str(n))
    console.print(table)


def _load_debate(debate_id: str) -> tuple[DebateStore, Any]:
    store = _debate_store()
    record = store.get_debate(debate_id)
    if record is None:
        raise _fail(f"no debate {debate_id!r}; see `banron debates list`")
    return store, record


@debates_app.command("show")
def debates_show(debate_id: Annotated[str, typer.Argument(help="Debate id.")]) -> None:
    """Print a stored debate with its citations."""
    store, record = _load_debate(debate_id)
    console.print(Markdown(to_markdown(record, record.motion_text, store.turns(record.id))))


@debates_app.command("export")
def debates_export(
    debate_id: Annotated[str, typer.Argument(help="Debate id.")],
    fmt: Annotated[str, typer.Option("--format", help="md or json.")] = "md",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Export a stored debate as Markdown or JSON."""
    store, record = _load_debate(debate_id)
    turns = store.turns(record.id)
    if fmt == "md":
        text = to_markdown(record, record.motion_text, turns)
    elif fmt == "json":
        text = json.dumps(to_json(record, turns), ensure_ascii=False, indent=2)
    else:
        raise _fail("--format must be md or json")
    if output is None:
        print(text)
    else:
        atomic_write_text(output, text)
        err.print(f"wrote {output}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
