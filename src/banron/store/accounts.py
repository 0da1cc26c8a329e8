"""Accounts, sessions, classes and teacher-written motions in SQLite (``$BANRON_HOME/accounts.sqlite``).

The store only keeps what it is given: password and token *hashes* come in already hashed (the web
layer hashes with argon2, tokens with SHA-256), so nothing here can leak a secret. Keyword-only CRUD
functions, one transaction per write, named append-only migrations like the debate store's.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from banron.domain import Lang, Motion
from banron.util import Migration, atomic_sqlite, migrate, utc_now, wal_anchor

Role = Literal["student", "teacher", "admin"]
ROLES: tuple[Role, ...] = ("student", "teacher", "admin")
NAME_RE = re.compile(r"^[\w.@-]{1,64}$")  # letters of any script, digits, _ . @ -


class AccountError(ValueError):
    """A write the store refuses (a taken name, an unknown user or class)."""


def _m001_accounts(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL CHECK (role IN ('student', 'teacher', 'admin')),
            password_hash TEXT NOT NULL,
            api_token_hash TEXT UNIQUE,
            locale TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE classes (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            teacher_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE class_members (
            class_id INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            PRIMARY KEY (class_id, user_id)
        )"""
    )


def _m002_motions(db: sqlite3.Connection) -> None:
    # Motions written by teachers; `kb` is the knowledge base a debate on the motion argues from.
    db.execute(
        """CREATE TABLE motions (
            id TEXT PRIMARY KEY,
            text TEXT NOT NULL,
            lang TEXT NOT NULL CHECK (lang IN ('ko', 'en')),
            text_en TEXT NOT NULL DEFAULT '',
            summary TEXT NOT NULL DEFAULT '',
            kb TEXT NOT NULL DEFAULT 'bundled',
            created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )


# Named, append-only: never edit or reorder an entry; add a new one.
MIGRATIONS: list[Migration] = [
    ("accounts_m001_users_sessions_classes", _m001_accounts),
    ("accounts_m002_motions", _m002_motions),
]


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: Role
    locale: str = ""
    created_at: str = ""

    @property
    def is_teacher(self) -> bool:
        """Teachers and admins manage motions, evidence and classes."""
        return self.role in ("teacher", "admin")


@dataclass(frozen=True)
class ClassRoom:
    id: int
    name: str
    teacher_id: int | None
    created_at: str


@dataclass(frozen=True)
class StoredMotion:
    """A motion a teacher wrote; ``kb`` is the knowledge base its debates argue from."""

    id: str
    text: str
    lang: Lang
    text_en: str = ""
    summary: str = ""
    kb: str = "bundled"
    created_by: int | None = None
    created_at: str = ""
    updated_at: str = ""

    def to_motion(self) -> Motion:
        return Motion(id=self.id, text=self.text, lang=self.lang, text_en=self.text_en, summary=self.summary)


def check_user(name: str, role: str) -> None:
    """The rules for a new account, the same on every backend."""
    if not NAME_RE.match(name):
        raise AccountError(f"invalid user name {name!r}: use letters, digits, '_', '.', '@' or '-'")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")


def class_name(name: str) -> str:
    """A class name as stored (trimmed), or an ``AccountError``."""
    name = name.strip()
    if not name or len(name) > 80:
        raise AccountError("a class name is 1 to 80 characters")
    return name


def _user(row: sqlite3.Row) -> User:
    return User(
        id=int(row["id"]),
        name=str(row["name"]),
        role=cast(Role, row["role"]),
        locale=str(row["locale"]),
        created_at=str(row["created_at"]),
    )


def _motion(row: sqlite3.Row) -> StoredMotion:
    return StoredMotion(
        id=str(row["id"]),
        text=str(row["text"]),
        lang="en" if row["lang"] == "en" else "ko",
        text_en=str(row["text_en"]),
        summary=str(row["summary"]),
        kb=str(row["kb"]),
        created_by=row["created_by"],
        created_at=str(row["created_at"]),
        updated_at=str(row["updated_at"]),
    )


class AccountStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        migrate(path, MIGRATIONS)
        self._anchor = wal_anchor(path)

    def close(self) -> None:
        """Each call opens its own connection; only the WAL anchor is left to close."""
        self._anchor.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30)) as db:
            db.row_factory = sqlite3.Row
            yield db

    # -- users -----------------------------------------------------------------------------------
    def add_user(self, *, name: str, role: Role, password_hash: str, locale: str = "") -> User:
        check_user(name, role)
        now = utc_now()
        try:
            with atomic_sqlite(self.path) as db:
                cur = db.execute(
                    "INSERT INTO users (name, role, password_hash, locale, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (name, role, password_hash, locale, now),
                )
        except sqlite3.IntegrityError:
            raise AccountError(f"a user named {name!r} already exists") from None
        return User(id=int(cur.lastrowid or 0), name=name, role=role, locale=locale, created_at=now)

    def get_user(self, user_id: int) -> User | None:
        with self._read() as db:
            row = db.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        return _user(row) if row else None

    def get_user_by_name(self, name: str) -> User | None:
        with self._read() as db:
            row = db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        return _user(row) if row else None

    def password_hash(self, user_id: int) -> str | None:
        with self._read() as db:
            row = db.execute("SELECT password_hash FROM users WHERE id = ?", (user_id,)).fetchone()
        return str(row[0]) if row else None

    def set_password(self, *, user_id: int, password_hash: str) -> None:
        with atomic_sqlite(self.path) as db:
            db.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id))
            db.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))  # signs out everywhere

    def set_locale(self, *, user_id: int, locale: str) -> None:
        with atomic_sqlite(self.path) as db:
            db.execute("UPDATE users SET locale = ? WHERE id = ?", (locale, user_id))

    def list_users(self, role: Role | None = None) -> list[User]:
        with self._read() as db:
            if role is None:
                rows = db.execute("SELECT * FROM users ORDER BY name").fetchall()
            else:
                rows = db.execute("SELECT * FROM users WHERE role = ? ORDER BY name", (role,)).fetchall()
        return [_user(r) for r in rows]

    # -- sessions and API tokens -----------------------------------------------------------------
    def create_session(self, *, user_id: int, token_hash: str, expires_at: str) -> None:
        with atomic_sqlite(self.path) as db:
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (utc_now(),))
            db.execute(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (token_hash, user_id, utc_now(), expires_at),
            )

    def session_user(self, token_hash: str) -> User | None:
        """The user of a live session (None when unknown or expired)."""
        with self._read() as db:
            row = db.execute(
                "SELECT u.* FROM sessions s JOIN users u ON u.id = s.user_id"
                " WHERE s.token_hash = ? AND s.expires_at > ?",
                (token_hash, utc_now()),
            ).fetchone()
        return _user(row) if row else None

    def delete_session(self, token_hash: str) -> None:
        with atomic_sqlite(self.path) as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))

    def set_api_token(self, *, user_id: int, token_hash: str | None) -> None:
        """Replace (or, with None, revoke) the user's API token."""
        with atomic_sqlite(self.path) as db:
            db.execute("UPDATE users SET api_token_hash = ? WHERE id = ?", (token_hash, user_id))

    def user_by_api_token(self, token_hash: str) -> User | None:
        with self._read() as db:
            row = db.execute("SELECT * FROM users WHERE api_token_hash = ?", (token_hash,)).fetchone()
        return _user(row) if row else None

    # -- classes ---------------------------------------------------------------------------------
    def create_class(self, *, name: str, teacher_id: int | None) -> ClassRoom:
        name = class_name(name)
        now = utc_now()
        try:
            with atomic_sqlite(self.path) as db:
                cur = db.execute(
                    "INSERT INTO classes (name, teacher_id, created_at) VALUES (?, ?, ?)",
                    (name, teacher_id, now),
                )
        except sqlite3.IntegrityError:
            raise AccountError(f"a class named {name!r} already exists") from None
        return ClassRoom(int(cur.lastrowid or 0), name, teacher_id, now)

    def get_class(self, class_id: int) -> ClassRoom | None:
        with self._read() as db:
            row = db.execute("SELECT * FROM classes WHERE id = ?", (class_id,)).fetchone()
        return ClassRoom(row["id"], row["name"], row["teacher_id"], row["created_at"]) if row else None

    def get_class_by_name(self, name: str) -> ClassRoom | None:
        with self._read() as db:
            row = db.execute("SELECT * FROM classes WHERE name = ?", (name,)).fetchone()
        return ClassRoom(row["id"], row["name"], row["teacher_id"], row["created_at"]) if row else None

    def list_classes(self, teacher_id: int | None = None) -> list[ClassRoom]:
        """Every class, or the classes one teacher teaches."""
        with self._read() as db:
            if teacher_id is None:
                rows = db.execute("SELECT * FROM classes ORDER BY name").fetchall()
            else:
                rows = db.execute(
                    "SELECT * FROM classes WHERE teacher_id = ? ORDER BY name", (teacher_id,)
                ).fetchall()
        return [ClassRoom(r["id"], r["name"], r["teacher_id"], r["created_at"]) for r in rows]

    def set_class_teacher(self, *, class_id: int, teacher_id: int | None) -> None:
        with atomic_sqlite(self.path) as db:
            db.execute("UPDATE classes SET teacher_id = ? WHERE id = ?", (teacher_id, class_id))

    def add_member(self, *, class_id: int, user_id: int) -> None:
        try:
            with atomic_sqlite(self.path) as db:
                db.execute(
                    "INSERT OR IGNORE INTO class_members (class_id, user_id) VALUES (?, ?)",
                    (class_id, user_id),
                )
        except sqlite3.IntegrityError:
            raise AccountError("no such class or user") from None

    def remove_member(self, *, class_id: int, user_id: int) -> None:
        with atomic_sqlite(self.path) as db:
            db.execute("DELETE FROM class_members WHERE class_id = ? AND user_id = ?", (class_id, user_id))

    def members(self, class_id: int) -> list[User]:
        with self._read() as db:
            rows = db.execute(
                "SELECT u.* FROM class_members m JOIN users u ON u.id = m.user_id"
                " WHERE m.class_id = ? ORDER BY u.name",
                (class_id,),
            ).fetchall()
        return [_user(r) for r in rows]

    def classes_of(self, user_id: int) -> list[ClassRoom]:
        with self._read() as db:
            rows = db.execute(
                "SELECT c.* FROM class_members m JOIN classes c ON c.id = m.class_id"
                " WHERE m.user_id = ? ORDER BY c.name",
                (user_id,),
            ).fetchall()
        return [ClassRoom(r["id"], r["name"], r["teacher_id"], r["created_at"]) for r in rows]

    def teaches(self, *, teacher_id: int, student_id: int) -> bool:
        """Whether the student is a member of a class this teacher teaches."""
        with self._read() as db:
            row = db.execute(
                "SELECT 1 FROM class_members m JOIN classes c ON c.id = m.class_id"
                " WHERE c.teacher_id = ? AND m.user_id = ? LIMIT 1",
                (teacher_id, student_id),
            ).fetchone()
        return row is not None

    # -- motions ---------------------------------------------------------------------------------
    def create_motion(
        self,
        *,
        text: str,
        lang: Lang,
        text_en: str = "",
        summary: str = "",
        kb: str = "bundled",
        created_by: int | None = None,
        motion_id: str | None = None,
    ) -> StoredMotion:
        text = text.strip()
        if not text:
            raise AccountError("a motion needs its text")
        now = utc_now()
        mid = motion_id or f"m-{uuid.uuid4().hex[:8]}"
        motion = StoredMotion(mid, text, lang, text_en.strip(), summary.strip(), kb, created_by, now, now)
        try:
            with atomic_sqlite(self.path) as db:
                db.execute(
                    "INSERT INTO motions (id, text, lang, text_en, summary, kb, created_by, created_at,"
                    " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (mid, motion.text, lang, motion.text_en, motion.summary, kb, created_by, now, now),
                )
        except sqlite3.IntegrityError:
            raise AccountError(f"a motion with id {mid!r} already exists") from None
        return motion

    def update_motion(
        self, *, motion_id: str, text: str, lang: Lang, text_en: str = "", summary: str = "", kb: str
    ) -> StoredMotion:
        if not text.strip():
            raise AccountError("a motion needs its text")
        with atomic_sqlite(self.path) as db:
            cur = db.execute(
                "UPDATE motions SET text = ?, lang = ?, text_en = ?, summary = ?, kb = ?, updated_at = ?"
                " WHERE id = ?",
                (text.strip(), lang, text_en.strip(), summary.strip(), kb, utc_now(), motion_id),
            )
        if cur.rowcount == 0:
            raise AccountError(f"no motion {motion_id!r}")
        found = self.get_motion(motion_id)
        assert found is not None
        return found

    def get_motion(self, motion_id: str) -> StoredMotion | None:
        with self._read() as db:
            row = db.execute("SELECT * FROM motions WHERE id = ?", (motion_id,)).fetchone()
        return _motion(row) if row else None

    def list_motions(self) -> list[StoredMotion]:
        with self._read() as db:
            rows = db.execute("SELECT * FROM motions ORDER BY created_at DESC, id").fetchall()
        return [_motion(r) for r in rows]
