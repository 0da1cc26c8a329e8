"""Every user-visible string is translated: both locales have the same keys and placeholders, templates
hold no text outside translation calls, every key the code asks for exists, and the locale switch works."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web_helpers import csrf_from, login

from banron.web.i18n import LOCALES, messages, negotiate

WEB = Path(str(files("banron.web")))
TEMPLATES = sorted((WEB / "templates").rglob("*.html"))
SCRIPTS = sorted((WEB / "static").glob("*.js"))
HANGUL = re.compile(r"[\uac00-\ud7a3]")
LETTER = re.compile(r"[A-Za-z\uac00-\ud7a3]")
# Attributes a user sees or hears (screen readers read aria-label and title).
VISIBLE_ATTRS = {"title", "placeholder", "aria-label", "alt", "label", "aria-description"}


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        values = dict(attrs)
        for name, value in attrs:
            visible = name in VISIBLE_ATTRS or (
                name == "value" and values.get("type") in ("submit", "button", "reset")
            )
            if visible and value and LETTER.search(value):
                self.found.append(f"{tag}[{name}]={value}")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.found.append(data.strip())


def visible_literals(source: str) -> list[str]:
    """Text a template shows that is not produced by a Jinja expression (i.e. not translated)."""
    source = re.sub(r"\{#.*?#\}", " ", source, flags=re.S)
    source = re.sub(r"\{%.*?%\}", " ", source, flags=re.S)
    source = re.sub(r"\{\{.*?\}\}", " ", source, flags=re.S)
    parser = _Visible()
    parser.feed(source)
    return [s for s in parser.found if "]=" in s or LETTER.search(s)]


def test_both_locales_have_the_same_keys_and_placeholders() -> None:
    ko, en = messages("ko"), messages("en")
    assert set(ko) == set(en), sorted(set(ko) ^ set(en))
    for key in ko:
        assert ko[key].strip() and en[key].strip(), key
        assert set(re.findall(r"\{(\w+)\}", ko[key])) == set(re.findall(r"\{(\w+)\}", en[key])), key


def test_korean_is_korean_and_english_is_english() -> None:
    bilingual = {"app.name", "nav.lang_ko", "nav.lang_en"}  # names shown the same in both
    ko, en = messages("ko"), messages("en")
    assert not [k for k, v in ko.items() if k not in bilingual and not HANGUL.search(v)]
    assert not [k for k, v in en.items() if k not in bilingual and HANGUL.search(v)]
    assert not [k for k in ko if k not in bilingual and ko[k] == en[k]]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(WEB / "templates")))
def test_templates_hold_no_untranslated_text(template: Path) -> None:
    assert visible_literals(template.read_text(encoding="utf-8")) == []


def test_the_scanner_catches_literals() -> None:
    assert visible_literals("<p>Hello</p>") == ["Hello"]
    assert visible_literals('<button aria-label="닫기">×</button>') == ["button[aria-label]=닫기"]
    assert visible_literals("<p>{{ t('x') }} · {% if a %}{{ b }}{% endif %}</p>") == []
    assert visible_literals("<script>const a = 'ok';</script>") == []


def _used_keys() -> tuple[set[str], set[str]]:
    """Literal keys and dynamic key prefixes the templates and the Python code ask for."""
    exact: set[str] = set()
    prefixes: set[str] = set()
    for path in TEMPLATES:
        text = path.read_text(encoding="utf-8")
        exact |= set(re.findall(r"\bt\('([a-z0-9_.]+)'", text))
        prefixes |= set(re.findall(r"\bt\('([a-z0-9_.]+)' ~", text))
        prefixes |= set(re.findall(r"\(\s*'([a-z0-9_.]+\.)' ~", text))
    for path in WEB.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        keys = re.findall(r'"((?:login|account|admin|motions|classes|kb|errors|debate)\.[a-z_]+)"', text)
        exact |= {k for k in keys if not k.endswith(".html")}  # template names look alike
        exact |= set(re.findall(r'\bt\("([a-z0-9_]+\.[a-z0-9_.]+)"', text))
    return exact - prefixes, prefixes


def test_every_key_the_code_asks_for_exists() -> None:
    ko = messages("ko")
    exact, prefixes = _used_keys()
    assert len(exact) > 150
    assert sorted(k for k in exact if k not in ko) == []
    assert sorted(p for p in prefixes if not any(k.startswith(p) for k in ko)) == []


def test_every_key_the_scripts_ask_for_exists() -> None:
    js = {k[3:] for k in messages("en") if k.startswith("js.")}
    for script in SCRIPTS:
        text = script.read_text(encoding="utf-8")
        exact = set(re.findall(r'\bt\("([a-z0-9_]+)"[,)]', text))
        prefixes = set(re.findall(r'\bt\("([a-z0-9_]+)" \+', text))
        assert sorted(exact - js) == [], script.name
        assert all(any(k.startswith(p) for k in js) for p in prefixes), script.name
        assert not HANGUL.search(text), f"{script.name}: Korean text belongs in the locale files"
        # Text a script puts on the page comes from t(...), not from string literals.
        shown = re.findall(r'(?:textContent|text:)\s*[=:]?\s*"([^"]*[A-Za-z][^"]*)"', text)
        assert shown == [], f"{script.name}: untranslated text {shown}"


def test_negotiation_prefers_the_switch_then_the_account_then_the_browser() -> None:
    assert negotiate("en", "ko", "ko-KR") == "en"
    assert negotiate(None, "en", "ko-KR") == "en"
    assert negotiate(None, "", "en-US,en;q=0.9") == "en"
    assert negotiate(None, None, "fr-FR, de") == "ko"
    assert negotiate("xx", None, None) == "ko"
    assert set(LOCALES) == {"ko", "en"}


def test_the_locale_switch_changes_the_page_and_is_remembered(web: tuple[FastAPI, Any]) -> None:
    app, _ = web
    client = TestClient(app)
    page = client.get("/login", headers={"Accept-Language": "ko"})
    assert "로그인" in page.text and '<html lang="ko">' in page.text
    r = client.post(
        "/locale",
        data={"lang": "en", "next": "/login", "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/login"
    page = client.get("/login")
    assert "Sign in" in page.text and '<html lang="en">' in page.text and "로그인" not in page.text
    # Signed in, the choice is saved with the account.
    alice = login(app, "alice")
    alice.post_form("/locale", {"lang": "en", "next": "/debates"})
    assert app.state.banron.accounts.get_user_by_name("alice").locale == "en"
    fresh = login(app, "alice")
    fresh.client.cookies.delete("banron_lang")
    assert "Start a debate" in fresh.client.get("/debates").text
    # Off-site redirects are refused.
    r = alice.post_form("/locale", {"lang": "ko", "next": "//evil.example/"})
    assert r.headers["location"] == "/"  # type: ignore[attr-defined]
    alice.post_form("/locale", {"lang": "ko", "next": "/"})


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_pages_render_in_both_languages_without_missing_keys(
    web: tuple[FastAPI, Any], lang: str, caplog: Any
) -> None:
    app, _ = web
    for who, urls in [
        ("alice", ["/debates", "/account"]),
        ("teacher", ["/teacher", "/teacher/motions", "/teacher/kb", "/teacher/classes"]),
        ("admin", ["/admin/users"]),
    ]:
        s = login(app, who)
        s.client.cookies.set("banron_lang", lang)
        for url in urls:
            r = s.client.get(url)
            assert r.status_code == 200 and f'<html lang="{lang}">' in r.text, url
    assert "missing" not in caplog.text
