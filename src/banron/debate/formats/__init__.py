"""Debate formats as data: each a list of phases (who speaks, what for, how long).

A format is one YAML file in this folder; adding a format means adding a file, never a
code path. The engine only asks a phase for its speaker, its kind (which decides how banron speaks)
and its limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any, Literal

import yaml

from banron.domain import Side

Kind = Literal["free", "constructive", "cross_examination", "rebuttal", "closing"]
Speaker = Literal["pro", "con", "student", "banron"]
KINDS: tuple[str, ...] = ("free", "constructive", "cross_examination", "rebuttal", "closing")


class FormatError(ValueError):
    """A format file that does not describe a debate banron can run."""


@dataclass(frozen=True)
class Phase:
    id: str
    speaker: Speaker  # a side, or (free sparring) the role
    kind: Kind
    name_ko: str
    name_en: str
    purpose_ko: str = ""
    purpose_en: str = ""
    time_s: int = 180  # speaking time
    words: int = 450  # length cap, in words (Korean: 어절)
    prep_s: int = 0  # preparation time before the phase
    questions: int = 0  # cross-examination: how many questions the questioner may ask

    def name(self, lang: str) -> str:
        return self.name_ko if lang == "ko" else self.name_en

    def purpose(self, lang: str) -> str:
        return self.purpose_ko if lang == "ko" else self.purpose_en

    def side_of_speaker(self, student_side: Side) -> Side:
        """The side that speaks (asks, in cross-examination) in this phase."""
        if self.speaker == "student":
            return student_side
        if self.speaker == "banron":
            return student_side.opposite
        return Side(self.speaker)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "speaker": self.speaker,
            "kind": self.kind,
            "name_ko": self.name_ko,
            "name_en": self.name_en,
            "purpose_ko": self.purpose_ko,
            "purpose_en": self.purpose_en,
            "time_s": self.time_s,
            "words": self.words,
            "prep_s": self.prep_s,
            "questions": self.questions,
        }


@dataclass(frozen=True)
class Format:
    id: str
    name_ko: str
    name_en: str
    phases: tuple[Phase, ...]
    description_ko: str = ""
    description_en: str = ""
    repeat: bool = False  # free sparring: the phase list cycles until the student stops

    def name(self, lang: str) -> str:
        return self.name_ko if lang == "ko" else self.name_en

    def phase_at(self, index: int) -> Phase | None:
        """The phase at a position in the debate (cycling for repeating formats); None after the end."""
        if self.repeat:
            return self.phases[index % len(self.phases)]
        return self.phases[index] if index < len(self.phases) else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name_ko": self.name_ko,
            "name_en": self.name_en,
            "description_ko": self.description_ko,
            "description_en": self.description_en,
            "repeat": self.repeat,
            "phases": [p.to_dict() for p in self.phases],
        }


def parse_format(data: Any, origin: str = "<format>") -> Format:
    """Validate one format's YAML data; a :class:`FormatError` names the file and the problem."""
    if not isinstance(data, dict):
        raise FormatError(f"{origin}: a format is a mapping with id, name_ko, name_en and phases")
    for key in ("id", "name_ko", "name_en", "phases"):
        if key not in data:
            raise FormatError(f"{origin}: missing '{key}'")
    raw_phases = data["phases"]
    if not isinstance(raw_phases, list) or not raw_phases:
        raise FormatError(f"{origin}: 'phases' must be a non-empty list")
    phases: list[Phase] = []
    allowed = set(Phase.__dataclass_fields__)
    for i, raw in enumerate(raw_phases, start=1):
        if not isinstance(raw, dict):
            raise FormatError(f"{origin}: phase {i} is not a mapping")
        unknown = set(raw) - allowed
        if unknown:
            raise FormatError(f"{origin}: phase {i} has unknown keys {sorted(unknown)}")
        try:
            phase = Phase(**raw)
        except TypeError as e:
            raise FormatError(f"{origin}: phase {i}: {e}") from None
        if phase.kind not in KINDS:
            raise FormatError(f"{origin}: phase {phase.id}: kind must be one of {', '.join(KINDS)}")
        if phase.speaker not in ("pro", "con", "student", "banron"):
            raise FormatError(f"{origin}: phase {phase.id}: speaker must be pro, con, student or banron")
        if phase.kind == "cross_examination" and phase.questions < 1:
            raise FormatError(f"{origin}: phase {phase.id}: cross-examination needs questions >= 1")
        if phase.time_s <= 0 or phase.words <= 0 or phase.prep_s < 0:
            raise FormatError(f"{origin}: phase {phase.id}: limits must be positive")
        phases.append(phase)
    ids = [p.id for p in phases]
    if len(set(ids)) != len(ids):
        raise FormatError(f"{origin}: phase ids must be unique")
    roles = {p.speaker in ("student", "banron") for p in phases}
    if len(roles) > 1:
        raise FormatError(f"{origin}: speakers are either all sides (pro/con) or all roles (student/banron)")
    return Format(
        id=str(data["id"]),
        name_ko=str(data["name_ko"]),
        name_en=str(data["name_en"]),
        description_ko=str(data.get("description_ko", "")),
        description_en=str(data.get("description_en", "")),
        repeat=bool(data.get("repeat", False)),
        phases=tuple(phases),
    )


@lru_cache(maxsize=1)
def formats() -> dict[str, Format]:
    """Every bundled format by id, in a stable order (free first, then by id)."""
    root = files("banron.debate.formats")
    found: dict[str, Format] = {}
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith((".yaml", ".yml")):
            continue
        fmt = parse_format(yaml.safe_load(entry.read_text(encoding="utf-8")), entry.name)
        if fmt.id in found:
            raise FormatError(f"{entry.name}: duplicate format id '{fmt.id}'")
        found[fmt.id] = fmt
    return dict(sorted(found.items(), key=lambda kv: (kv[0] != "free", kv[0])))


def get_format(format_id: str) -> Format:
    try:
        return formats()[format_id]
    except KeyError:
        raise FormatError(f"unknown format '{format_id}' (known: {', '.join(formats())})") from None
