"""Backends register here by name; built-ins use the same hook a plugin would.

A third-party package can add a backend by exposing an entry point in the ``banron.backends``
group that points at a module calling :func:`register`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from banron.llm.base import ChatBackend

if TYPE_CHECKING:
    from banron.config import Settings

Factory = Callable[["Settings"], ChatBackend]

_FACTORIES: dict[str, Factory] = {}
_BUILTINS = ("banron.llm.fake", "banron.llm.openai_compat", "banron.llm.local")
_loaded = False


def register(name: str) -> Callable[[Factory], Factory]:
    """Decorator: ``@register("name")`` on a function ``(settings) -> ChatBackend``."""

    def deco(factory: Factory) -> Factory:
        _FACTORIES[name] = factory
        return factory

    return deco


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    for mod in _BUILTINS:
        importlib.import_module(mod)
    for ep in entry_points(group="banron.backends"):
        ep.load()
    _loaded = True


def names() -> list[str]:
    _load_all()
    return sorted(_FACTORIES)


def create(name: str, settings: Settings) -> ChatBackend:
    """The backend registered as ``name``, built from ``settings``."""
    _load_all()
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ValueError(f"unknown LLM backend {name!r}; choose one of: {', '.join(names())}") from None
    return factory(settings)
