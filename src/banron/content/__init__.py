"""Bundled motions and their evidence packs (original text written for banron, stance-labelled).

They are ingested into the knowledge base named ``bundled`` on first use, so a fresh install can
debate at once with no files of its own.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import yaml

from banron.domain import Motion

BUNDLED_KB = "bundled"


def _root() -> Path:
    return Path(str(files("banron.content")))


@lru_cache(maxsize=1)
def motions() -> tuple[Motion, ...]:
    data = yaml.safe_load((_root() / "motions.yaml").read_text(encoding="utf-8"))
    return tuple(
        Motion(
            id=m["id"],
            text=m["text"],
            lang=m["lang"],
            text_en=m.get("text_en", ""),
            summary=m.get("summary", ""),
        )
        for m in data
    )


def find_motion(key: str) -> Motion | None:
    """A bundled motion by id, or by its exact text."""
    for m in motions():
        if key in (m.id, m.text, m.text_en):
            return m
    return None


def pack_paths() -> list[Path]:
    return sorted((_root() / "packs").glob("*.jsonl"))
