"""UI text in Korean and English: one YAML file per locale, nested keys flattened with dots.

Templates call ``t("key", name=value)``; the values are ``str.format`` templates. The locale comes
from the ``banron_lang`` cookie (the switch in the header), else the account's saved choice, else
the browser's Accept-Language, else Korean.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib.resources import files
from typing import Any

import yaml

LOCALES: tuple[str, ...] = ("ko", "en")
DEFAULT = "ko"
COOKIE = "banron_lang"
log = logging.getLogger(__name__)


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = str(value)
    return out


@lru_cache(maxsize=len(LOCALES))
def messages(lang: str) -> dict[str, str]:
    """Every message of a locale, by dotted key."""
    text = (files("banron.web") / "locales" / f"{lang}.yaml").read_text(encoding="utf-8")
    return _flatten(yaml.safe_load(text) or {})


class Translator:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LOCALES else DEFAULT
        self._messages = messages(self.lang)

    def __call__(self, key: str, **values: Any) -> str:
        try:
            text = self._messages[key]
        except KeyError:
            log.warning("missing %s translation for %r", self.lang, key)
            return key
        return text.format(**values) if values else text

    def js(self) -> dict[str, str]:
        """The messages the page scripts need (keys under ``js.``), for a JSON island in the page."""
        return {k[3:]: v for k, v in self._messages.items() if k.startswith("js.")}


def negotiate(cookie: str | None, saved: str | None, accept_language: str | None) -> str:
    for choice in (cookie, saved):
        if choice in LOCALES:
            return choice
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LOCALES:
            return tag
    return DEFAULT
