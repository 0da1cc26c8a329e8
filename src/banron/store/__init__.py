"""Persistence of debates and turns: SQLite under ``BANRON_HOME`` by default, PostgreSQL by URL.

``open_store(settings)`` is the one place a debate store is chosen: ``store.database_url`` set
selects ``PostgresDebateStore`` (imported only then), otherwise ``$BANRON_HOME/debates.sqlite``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from banron.store.base import (
    DebateRecord,
    DebateStoreProtocol,
    DuplicateTurn,
    Status,
    StoreError,
    UnknownDebate,
)

if TYPE_CHECKING:
    from banron.config import Settings
    from banron.store.accounts import AccountStore

__all__ = [
    "DebateRecord",
    "DebateStoreProtocol",
    "DuplicateTurn",
    "Status",
    "StoreError",
    "UnknownDebate",
    "open_accounts",
    "open_store",
]


def open_store(settings: Settings) -> DebateStoreProtocol:
    """The debate store the settings name (PostgreSQL when ``store.database_url`` is set)."""
    url = settings.store.database_url
    if url is not None and url.get_secret_value():
        from banron.store.postgres import PostgresDebateStore

        return PostgresDebateStore(url.get_secret_value())
    from banron.store.sqlite import DebateStore

    return DebateStore(settings.home / "debates.sqlite")


def open_accounts(settings: Settings) -> AccountStore:
    """The web accounts store (SQLite under home; a PostgreSQL one is not written yet)."""
    from banron.store.accounts import AccountStore

    return AccountStore(settings.home / "accounts.sqlite")
