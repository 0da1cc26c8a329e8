"""A stored debate as Markdown or JSON, for `/save`, `banron debates export` and sharing."""

from __future__ import annotations

from typing import Any

from banron.domain import Turn
from banron.store.sqlite import DebateRecord


def _speaker(t: Turn) -> str:
    if t.speaker == "banron":
        return "banron"
    return "학생" if t.lang == "ko" else "student"


def to_markdown(record: DebateRecord | None, motion_text: str, turns: list[Turn]) -> str:
    lines = [f"# {motion_text}", ""]
    if record is not None:
        lines += [f"debate `{record.id}` · {record.created_at} · format {record.format}", ""]
    for t in turns:
        lines += [f"## {t.n}. {_speaker(t)} ({t.side.label(t.lang)})", "", t.text, ""]
        for c in t.citations:
            lines.append(f"- [{c.n}] {c.title} — {c.source} (`{c.kb}:{c.passage_id}`): “{c.quote}”")
        if t.citations:
            lines.append("")
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
        "turns": [{**t.to_dict(), "claims": [{"id": c.id, "text": c.text} for c in t.claims]} for t in turns],
    }
