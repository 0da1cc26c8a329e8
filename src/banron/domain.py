"""The nouns of banron, shared by every layer. Plain dataclasses: no I/O, no backends."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Literal

Lang = Literal["ko", "en"]
Stance = Literal["pro", "con", "neutral"]
STANCES: tuple[Stance, ...] = ("pro", "con", "neutral")


class Side(StrEnum):
    PRO = "pro"
    CON = "con"

    @property
    def opposite(self) -> Side:
        return Side.CON if self is Side.PRO else Side.PRO

    def label(self, lang: str) -> str:
        if lang == "ko":
            return "찬성" if self is Side.PRO else "반대"
        return "proposition" if self is Side.PRO else "opposition"


@dataclass(frozen=True)
class Motion:
    id: str
    text: str
    lang: Lang
    text_en: str = ""
    summary: str = ""

    def text_in(self, lang: str) -> str:
        if lang == "en" and self.lang != "en" and self.text_en:
            return self.text_en
        return self.text


@dataclass(frozen=True)
class Passage:
    """A retrievable unit of evidence (a chunk of a document, or a JSONL line)."""

    id: str
    kb: str
    text: str
    title: str = ""
    source: str = ""
    lang: str = "ko"
    stance: Stance = "neutral"
    motion: str = ""
    doc_id: str = ""
    start: int = 0  # character offsets of `text` inside the source document
    end: int = 0
    page: int | None = None  # 1-based page of the passage's start (PDF)
    section: str = ""  # the heading the passage falls under, when the document has headings

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float
    lexical_rank: int | None = None
    dense_rank: int | None = None


@dataclass(frozen=True)
class Citation:
    n: int
    passage_id: str
    kb: str
    quote: str
    title: str = ""
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "passage_id": self.passage_id, "kb": self.kb, "quote": self.quote}


@dataclass(frozen=True)
class Claim:
    """An argument made in a speech; ``answers`` holds the ids of earlier claims it responds to."""

    id: str
    text: str
    answers: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "answers": list(self.answers)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Claim:
        return cls(id=data["id"], text=data["text"], answers=tuple(data.get("answers", ())))


@dataclass
class Turn:
    """One speech in a debate, as stored and as shown."""

    n: int
    speaker: Literal["student", "banron"]
    side: Side
    lang: Lang
    text: str
    citations: list[Citation] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    phase: str = ""  # the format phase this turn belongs to ("" for turns stored before formats)
    part: Literal["speech", "question", "answer"] = "speech"  # cross-examination turns ask or answer
    warnings: list[str] = field(default_factory=list)  # limits exceeded (over time, cut off)

    def to_dict(self) -> dict[str, Any]:
        return {
            "turn": self.n,
            "phase": self.phase,
            "part": self.part,
            "speaker": self.speaker,
            "side": self.side.value,
            "lang": self.lang,
            "text": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "claims": [c.to_dict() for c in self.claims],
            "warnings": list(self.warnings),
        }

    def to_message(self, banron_is: Literal["assistant", "user"] = "assistant") -> dict[str, str]:
        """This turn as a chat message from banron's point of view."""
        role = (
            banron_is if self.speaker == "banron" else ("user" if banron_is == "assistant" else "assistant")
        )
        return {"role": role, "content": self.text}
