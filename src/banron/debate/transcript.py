"""A stored debate as Markdown or JSON, for `/save`, `banron debates export` and sharing."""

from __future__ import annotations

from typing import Any

from banron.debate.flow import Flow
from banron.domain import Turn
from banron.store.sqlite import DebateRecord


def _speaker(t: Turn) -> str:
    if t.speaker == "banron":
        return "banron"
    return "학생" if t.lang == "ko" else "student"


def to_markdown(
    record: DebateRecord | None, motion_text: str, turns: list[Turn], flow: Flow | None = None
) -> str:
    lines = [f"# {motion_text}", ""]
    if record is not None:
        lines += [f"debate `{record.id}` · {record.created_at} · format {record.format}", ""]
    for t in turns:
        phase = f" · {t.phase}" + (f" ({t.part})" if t.part != "speech" else "") if t.phase else ""
        lines += [f"## {t.n}. {_speaker(t)} ({t.side.label(t.lang)}){phase}", "", t.text, ""]
        for w in t.warnings:
            lines.append(f"> ⚠ {w}")
        if t.warnings:
            lines.append("")
        for c in t.citations:
            lines.append(f"- [{c.n}] {c.title} — {c.source} (`{c.kb}:{c.passage_id}`): “{c.quote}”")
        if t.citations:
            lines.append("")
    flow = flow or Flow.from_turns(turns)
    if flow.entries:
        lines += ["## Flow", "", flow.to_markdown(), ""]
        dropped = flow.dropped()
        if dropped:
            lines += [
                "Dropped (never answered): " + ", ".join(f"`{e.id}` ({e.side.value})" for e in dropped),
                "",
            ]
    return "\n".join(lines)


def to_json(record: DebateRecord, turns: list[Turn]) -> dict[str, Any]:
    return {
        "id": record.id,
        "motion_id": record.motion_id,
        "motion": record.motion_text,
        "student_side": record.student_side.value,
        "format": record.format,
        "kbs": record.kbs,
        "created_at": record.created_at,
        "lang": record.lang,
        "exhibition": record.exhibition,
        "status": record.status,
        "turns": [t.to_dict() for t in turns],
        "flow": Flow.from_turns(turns).to_dict(),
    }
