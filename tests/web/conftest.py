"""Web test fixtures: one runtime with the fake model and the bundled evidence, an app per module,
and a cast of users (an admin, two teachers, three students in two classes)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from web_app import Cast, make_app

from banron.config import Settings
from banron.runtime import Runtime
from banron.web.config import WebConfig


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


@pytest.fixture(scope="module")
def web(web_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, Cast]]:
    # Generous turn limit: the rate limit has its own test with its own app.
    app, cast = make_app(web_runtime, tmp_path_factory.mktemp("web_app"), WebConfig(turns_per_minute=1000))
    yield app, cast
    app.state.banron.close()
