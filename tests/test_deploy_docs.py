"""docs/deploy.md and deploy/ kept honest: the settings they name exist, the commands they show
parse, and nginx sends every debate route by its id and every upload route to the ingest worker."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from banron.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
COMPOSE_TEXT = (ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8")
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
NGINX = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")


def _banron_lines() -> list[str]:
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", DOC, re.DOTALL):
        lines += [ln.split("  #", 1)[0].strip() for ln in block.splitlines()]
    lines += [ln.strip() for ln in COMPOSE["services"]["init"]["command"][-1].splitlines()]
    found = [m for ln in lines for m in re.findall(r"(?:^|\| )(banron [^|;&]*)", ln)]
    return [m.strip() for m in found if m.strip() != "banron"]


@pytest.mark.parametrize("line", _banron_lines())
def test_every_command_shown_parses(line: str) -> None:
    argv = shlex.split(line)[1:]
    path: list[str] = []
    for w in [a for a in argv if not a.startswith("-")][:2]:
        if CliRunner().invoke(app, [*path, w, "--help"]).exit_code != 0:
            break
        path.append(w)
    assert path, f"unknown command: {line}"
    help_text = CliRunner().invoke(app, [*path, "--help"], terminal_width=200).output
    for opt in (a.split("=", 1)[0] for a in argv if a.startswith("--")):
        assert opt in help_text, f"{line}: option {opt} not in `banron {' '.join(path)} --help`"


def test_every_banron_setting_named_exists() -> None:
    from banron.config import Settings

    fields = Settings().model_dump()
    names = set(re.findall(r"BANRON_([A-Z_]+)", DOC + COMPOSE_TEXT)) - {"HOME"}
    assert {"STORE__DATABASE_URL", "KB__DATABASE_URL", "LLM__BACKEND", "LLM__OPENAI__BASE_URL"} <= names
    for var in names:
        node = fields
        for part in var.lower().split("__"):
            assert isinstance(node, dict) and part in node, f"BANRON_{var} is not a setting"
            node = node[part]


def test_every_worker_gets_the_same_settings_and_home() -> None:
    services = COMPOSE["services"]
    workers = [s for name, s in services.items() if re.fullmatch(r"banron\d+", name)]
    assert len(workers) >= 2 and all(w == workers[0] for w in workers)
    env = workers[0]["environment"]
    assert env["BANRON_LLM__BACKEND"] == "openai" and env["BANRON_HOME"] == "/data"
    assert env["BANRON_STORE__DATABASE_URL"].startswith("postgresql://")
    assert env["BANRON_KB__DATABASE_URL"].startswith("postgresql://")
    assert services["init"]["environment"]["BANRON_STORE__DATABASE_URL"] == env["BANRON_STORE__DATABASE_URL"]
    assert "banron-home:/data" in workers[0]["volumes"]
    upstream = re.search(r"upstream banron_debates \{(.*?)\}", NGINX, re.DOTALL)
    assert upstream is not None
    named = re.findall(r"server (banron\d+):8000;", upstream.group(1))
    assert sorted(named) == sorted(n for n in services if re.fullmatch(r"banron\d+", n))


def _nginx_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern.replace("(?<", "(?P<"))


def _find(pattern: str) -> str:
    m = re.search(pattern, NGINX)
    assert m is not None, pattern
    return m.group(1)


def _routes() -> list[str]:
    from banron.web.routes import api, pages, student, teacher

    routers = (api.router, pages.router, student.router, teacher.router)
    return [str(getattr(r, "path", "")) for router in routers for r in router.routes]


def test_nginx_routes_a_debate_by_its_id_and_uploads_to_one_worker() -> None:
    debate_re = _nginx_regex(_find(r"~(\^\(\?:/api\)\?/debates/\S+) \$debate;"))
    ingest_re = _nginx_regex(_find(r"location ~ (\S+) \{\n\s+proxy_pass http://banron_ingest;"))
    routes = _routes()
    debate_routes = [p for p in routes if "{debate_id}" in p]
    ingest_routes = [p for p in routes if re.search(r"upload|/jobs/|/ingest/", p)]
    assert len(debate_routes) >= 10 and len(ingest_routes) == 4, (debate_routes, ingest_routes)
    for path in debate_routes:
        concrete = re.sub(r"\{(\w+)\}", lambda m: "0f3a9c1b2d4e" if m[1] == "debate_id" else "x", path)
        m = debate_re.match(concrete)
        assert m and m["debate"] == "0f3a9c1b2d4e", path
        assert not ingest_re.match(concrete), path
    for path in ingest_routes:
        assert ingest_re.match(re.sub(r"\{\w+\}", "x", path)), path
    for path in set(routes) - set(debate_routes) - set(ingest_routes):
        assert not ingest_re.match(re.sub(r"\{\w+\}", "x", path)), path
