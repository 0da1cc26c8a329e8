"""What a debate store is, whatever keeps it: the records, the errors and the protocol.

``DebateStore`` (SQLite, ``sqlite.py``) and ``PostgresDebateStore`` (``postgres.py``) both satisfy
``DebateStoreProtocol`` and pass the same contract tests (``tests/store/``). The core (the debate
engine) and the web app take any store of this shape; ``banron.store.open_store`` picks one from
the settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from banron.domain import Motion, Side, Turn

Status = Literal["active", "finished"]


class StoreError(RuntimeError):
    """A write the debate store refuses."""


class DuplicateTurn(StoreError):
    """The debate already has a turn with this number (turns are append-only)."""


class UnknownDebate(StoreError):
    """A turn was written for a debate the store does not have."""


@dataclass(frozen=True)
class DebateRecord:
    id: str
    motion_id: str
    motion_text: str
    student_side: Side
    format: str
    kbs: list[str]
    created_at: str
    lang: str = ""
    motion: Motion | None = None  # the full motion (custom motions have no bundled entry to look up)
    exhibition: bool = False
    status: Status = "active"
    updated_at: str = ""
    owner: str | None = None  # the web account the debate belongs to (None: made in the terminal)


@runtime_checkable
class DebateStoreProtocol(Protocol):
    """Debates and their turns. Every write is one transaction; turns are numbered and append-only.

    Timestamps are UTC ISO-8601 strings to the second (``banron.util.utc_now``).
    """

    def create_debate(
        self,
        *,
        motion_id: str,
        motion_text: str,
        student_side: Side,
        kbs: list[str],
        format: str = "free",
        lang: str = "",
        motion: Motion | None = None,
        exhibition: bool = False,
        owner: str | None = None,
    ) -> DebateRecord: ...

    def set_status(self, debate_id: str, status: Status) -> None:
        """Mark a debate active or finished (no-op for an unknown id)."""

    def add_turn(self, debate_id: str, turn: Turn) -> None:
        """Store one completed turn in one transaction.

        Raises ``DuplicateTurn`` when the debate has turn ``turn.n`` already and ``UnknownDebate``
        when there is no such debate; either way nothing is written and earlier turns stay.
        """

    def get_debate(self, debate_id: str) -> DebateRecord | None: ...

    def list_debates(self, owner: str | None = None) -> list[tuple[DebateRecord, int]]:
        """Debates newest first (ties by id), with their turn counts; only ``owner``'s when given."""
        ...

    def turns(self, debate_id: str) -> list[Turn]:
        """A debate's turns in order of their numbers."""
        ...

    def close(self) -> None:
        """Release connections (a no-op for SQLite, which opens one per call)."""
