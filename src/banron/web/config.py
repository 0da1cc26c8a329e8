"""The web app's own limits. Defaults suit one classroom on a laptop; `banron serve` and tests override."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WebConfig:
    max_upload_bytes: int = 50 * 1024 * 1024  # one evidence upload request (all its files)
    max_body_bytes: int = 1024 * 1024  # any other request
    turns_per_minute: int = 6  # student speeches a user may submit per minute
    drafts_per_minute: int = 60  # drafts a user's pages may send (one per pause in typing)
    session_days: int = 14
    engine_cache: int = 64  # live debate engines kept in memory (others are resumed from the store)
    speech_chars: int = 20_000  # longest speech accepted (the phase's word limit cuts far earlier)
