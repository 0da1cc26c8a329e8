"""The web app with its cast of accounts, for tests (a module, not conftest: `from conftest import`
resolves to whichever conftest.py was imported first when the whole suite runs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from web_helpers import PASSWORD

from banron.config import Settings
from banron.runtime import Runtime
from banron.store.accounts import ClassRoom, User
from banron.web.app import create_app
from banron.web.config import WebConfig
from banron.web.passwords import hash_password


@dataclass
class Cast:
    admin: User
    teacher: User
    other_teacher: User
    alice: User  # student in class A (teacher's)
    bob: User  # student in class A
    carol: User  # student in class B (other_teacher's)
    class_a: ClassRoom
    class_b: ClassRoom


def runtime_sharing(base: Runtime, settings: Settings) -> Runtime:
    """A runtime on ``settings`` that reuses ``base``'s expensive parts (the embedder, the index
    with the bundled evidence), as every test app does with the session runtime."""
    runtime = Runtime(settings)
    for name in ("index", "embedder", "tokenizer", "cache", "retriever"):
        runtime.__dict__[name] = getattr(base, name)
    return runtime


def make_app(rt: Runtime, home: Path, config: WebConfig | None = None) -> tuple[FastAPI, Cast]:
    """An app with its own accounts and debates (under ``home``) on the shared runtime's index."""
    runtime = runtime_sharing(rt, rt.settings.model_copy(update={"home": home}))
    app = create_app(runtime=runtime, config=config)
    acc = app.state.banron.accounts
    digest = hash_password(PASSWORD)
    users = {
        name: acc.add_user(name=name, role=role, password_hash=digest)  # type: ignore[arg-type]
        for name, role in [
            ("admin", "admin"),
            ("teacher", "teacher"),
            ("teacher2", "teacher"),
            ("alice", "student"),
            ("bob", "student"),
            ("carol", "student"),
        ]
    }
    class_a = acc.create_class(name="A반", teacher_id=users["teacher"].id)
    class_b = acc.create_class(name="B반", teacher_id=users["teacher2"].id)
    for student, c in (("alice", class_a), ("bob", class_a), ("carol", class_b)):
        acc.add_member(class_id=c.id, user_id=users[student].id)
    cast = Cast(
        users["admin"], users["teacher"], users["teacher2"], users["alice"], users["bob"], users["carol"],
        class_a, class_b,
    )  # fmt: skip
    return app, cast
