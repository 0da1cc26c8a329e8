from __future__ import annotations

from pathlib import Path

import pytest

from banron.config import Settings
from banron.runtime import Runtime


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    """One runtime with the bundled packs ingested, shared by the debate tests (embedding is slow)."""
    home: Path = tmp_path_factory.mktemp("debate_home")
    rt = Runtime(Settings(home=home))
    rt.ensure_bundled()
    return rt
