"""Web test fixtures: one runtime with the fake model and the bundled evidence, an app per module,
and a cast of users (an admin, two teachers, three students in two classes)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from web_helpers import PASSWORD

from banron.config import Settings
from banron.runtime import Runtime
from banron.store.accounts import ClassRoom, User
from banron.web.app import create_app
from banron.web.config import WebConfig
from banron.web.passwords import hash_password


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    """Keep each phase's report on the test item, so browser fixtures can screenshot failures."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def web_runtime(tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    settings = Settings(home=tmp_path_factory.mktemp("web_home"))
    settings.llm.backend = "fake"  # banron's speeches: evidence-first templates, no model
    rt = Runtime(settings)
    rt.ensure_bundled()
    return rt


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


def make_app(rt: Runtime, home: Path, config: WebConfig | None = None) -> tuple[FastAPI, Cast]:
    """An app with its own accounts and debates (under ``home``) on the shared runtime's index."""
    settings = rt.settings.model_copy(update={"home": home})
    runtime = Runtime(settings)
    # Share the expensive parts (embedder, index with the bundled evidence) with the session runtime.
    for name in ("index", "embedder", "tokenizer", "cache", "retriever"):
        runtime.__dict__[name] = getattr(rt, name)
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


@pytest.fixture(scope="module")
def web(web_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, Cast]]:
    # Generous turn limit: the rate limit has its own test with its own app.
    app, cast = make_app(web_runtime, tmp_path_factory.mktemp("web_app"), WebConfig(turns_per_minute=1000))
    yield app, cast
    app.state.banron.close()
