"""Correcting a passage's stance labels on the SQLite index (teachers' stance editor).

This is index housekeeping like ``banron.kb.index.maintenance`` and belongs next to it; it lives
here until that module grows a labels function. A correction survives re-adding the unchanged file
(its document hash does not change, so its passages are not rewritten); a changed file's passages
are replaced and take the labels the file gives them.
"""

from __future__ import annotations

from pathlib import Path

from banron.domain import Stance
from banron.util import atomic_sqlite

STANCES: tuple[Stance, ...] = ("pro", "con", "neutral")


def set_passage_labels(index_path: Path, kb: str, passage_id: str, *, stance: Stance, motion: str) -> bool:
    """Set which side of which motion a passage supports; False when there is no such passage."""
    if stance not in STANCES:
        raise ValueError(f"stance must be one of {', '.join(STANCES)}")
    with atomic_sqlite(index_path) as db:
        cur = db.execute(
            "UPDATE passages SET stance = ?, motion = ? WHERE kb = ? AND id = ?",
            (stance, motion, kb, passage_id),
        )
        if cur.rowcount:
            # Searches group passages by label in memory: the generation tells them to reload.
            db.execute("UPDATE kbs SET generation = generation + 1 WHERE name = ?", (kb,))
    return bool(cur.rowcount)
