"""Everything a request needs, built once per app: the runtime, the stores, the workers, the limits."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from banron.runtime import Runtime
from banron.store import DebateStoreProtocol, open_accounts, open_store
from banron.util import atomic_write_bytes, create_file_once
from banron.web.config import WebConfig
from banron.web.debates import DebateService
from banron.web.ingest import IngestService
from banron.web.limits import RateLimiter
from banron.web.scorecards import Scorecards

if TYPE_CHECKING:
    from banron.store import Accounts


def load_secret(path: Path) -> bytes:
    """This installation's signing key (CSRF tokens), made on first start, readable by its owner only.

    Several workers may start at once on a fresh home: the key is written to a private temporary
    file and linked into place, which fails if another worker's key got there first; then that
    one is used. Every worker ends up with the same key, and none ever reads a half-written one.
    """
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except FileNotFoundError:
        pass
    data = secrets.token_bytes(32)
    if create_file_once(path, data):
        return data
    existing = path.read_bytes()  # another worker's key got there first
    if len(existing) >= 32:
        return existing
    atomic_write_bytes(path, data)  # a short key left by an older version: replace it whole
    return data


@dataclass
class WebState:
    rt: Runtime
    config: WebConfig
    debates: DebateStoreProtocol
    accounts: Accounts
    secret: bytes
    engine: DebateService
    ingest: IngestService
    turn_limit: RateLimiter
    draft_limit: RateLimiter
    login_limit: RateLimiter  # failed sign-ins per user name and address
    scorecards: Scorecards

    @classmethod
    def build(cls, rt: Runtime, config: WebConfig) -> WebState:
        home = rt.settings.home
        debates = open_store(rt.settings)
        return cls(
            rt=rt,
            config=config,
            debates=debates,
            accounts=open_accounts(rt.settings),
            secret=load_secret(home / "web-secret"),
            engine=DebateService(rt, debates, config.engine_cache),
            ingest=IngestService(rt, home / "uploads"),
            turn_limit=RateLimiter(config.turns_per_minute, 60.0),
            draft_limit=RateLimiter(config.drafts_per_minute, 60.0),
            login_limit=RateLimiter(10, 60.0),
            scorecards=Scorecards(rt),
        )

    def close(self) -> None:
        self.engine.close()
        self.ingest.close()
        self.scorecards.close()
        self.debates.close()
        self.accounts.close()
