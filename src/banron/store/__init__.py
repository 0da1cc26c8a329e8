"""Persistence of debates and turns: SQLite under ``BANRON_HOME`` by default, PostgreSQL by URL.

``open_store(settings)`` is the one place a debate store is chosen: ``store.database_url`` set
selects ``PostgresDebateStore`` (imported only then), otherwise ``$BANRON_HOME/debates.sqlite``.
``open_accounts(settings)`` chooses the web accounts store the same way, on the same URL.
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
    from typing import TypeAlias

    from banron.config import Settings
    from banron.store.accounts import AccountStore
    from banron.store.postgres_accounts import PostgresAccountStore

    # Either accounts store: the two have the same methods (tests/store/test_accounts_store.py).
    Accounts: TypeAlias = AccountStore | PostgresAccountStore

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


def open_accounts(settings: Settings) -> Accounts:
    """The web accounts store the settings name: PostgreSQL (schema ``banron_accounts``) when
    ``store.database_url`` is set, so every worker sees the same users and sessions; otherwise
    ``$BANRON_HOME/accounts.sqlite``."""
    url = settings.store.database_url
    if url is not None and url.get_secret_value():
        from banron.store.postgres_accounts import PostgresAccountStore

        return PostgresAccountStore(url.get_secret_value())
    from banron.store.accounts import AccountStore

    return AccountStore(settings.home / "accounts.sqlite")
