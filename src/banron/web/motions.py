"""The motions a student can debate: the bundled ones and those teachers wrote (stored in the DB)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from banron import content
from banron.domain import Motion
from banron.store.accounts import StoredMotion

if TYPE_CHECKING:
    from banron.store import Accounts


@dataclass(frozen=True)
class MotionChoice:
    motion: Motion
    kb: str  # the knowledge base its debates argue from
    stored: StoredMotion | None = None  # None for a bundled motion

    @property
    def bundled(self) -> bool:
        return self.stored is None

    def to_dict(self) -> dict[str, object]:
        m = self.motion
        return {
            "id": m.id,
            "text": m.text,
            "text_en": m.text_en,
            "lang": m.lang,
            "summary": m.summary,
            "kb": self.kb,
            "bundled": self.bundled,
        }


def all_motions(accounts: Accounts) -> list[MotionChoice]:
    """Teachers' motions first (newest first), then the bundled ones."""
    stored = [MotionChoice(s.to_motion(), s.kb, s) for s in accounts.list_motions()]
    return stored + [MotionChoice(m, content.BUNDLED_KB) for m in content.motions()]


def find_motion(accounts: Accounts, motion_id: str) -> MotionChoice | None:
    stored = accounts.get_motion(motion_id)
    if stored is not None:
        return MotionChoice(stored.to_motion(), stored.kb, stored)
    bundled = next((m for m in content.motions() if m.id == motion_id), None)
    return MotionChoice(bundled, content.BUNDLED_KB) if bundled else None
