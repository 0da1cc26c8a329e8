"""Everything a request needs, built once per app: the runtime, the stores, the workers, the limits."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from banron.runtime import Runtime
from banron.store import DebateStoreProtocol, open_accounts, open_store
from banron.web.config import WebConfig
from banron.web.debates import DebateService
from banron.web.ingest import IngestService
from banron.web.limits import RateLimiter
from banron.web.scorecards import Scorecards

if TYPE_CHECKING:
    from banron.store import Accounts


def load_secret(path: Path) -> bytes:
    """This installation's signing key (CSRF tokens), made on first start, readable by its owner only."""
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    data = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
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
            login_limit=RateLimiter(10, 60.0),
            scorecards=Scorecards(rt),
        )

    def close(self) -> None:
        self.engine.close()
        self.ingest.close()
        self.scorecards.close()
        self.debates.close()
        self.accounts.close()
