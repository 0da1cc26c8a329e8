"""Pages: Jinja2 with autoescaping on everything, so text from students, teachers and documents is
always inert; the few helpers that build markup escape their input themselves."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import Request
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

from banron.debate.formats import formats
from banron.web.auth import is_https, optional_user
from banron.web.csrf import ANON_COOKIE, csrf_token
from banron.web.i18n import COOKIE, Translator, negotiate

_CITE = re.compile(r"\[(\d{1,3})\]")

env = Environment(
    loader=PackageLoader("banron.web", "templates"),
    autoescape=True,  # every template, whatever its name
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def speech_html(text: str, t: Callable[..., str], cite_numbers: set[int] | None = None) -> Markup:
    """A speech as paragraphs, each ``[n]`` that names a citation made a button for the evidence panel."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    out = []
    for para in paragraphs:
        pieces: list[str] = []
        last = 0
        for m in _CITE.finditer(para):
            n = int(m.group(1))
            if cite_numbers is not None and n not in cite_numbers:
                continue
            pieces.append(str(escape(para[last : m.start()])))
            label = escape(t("debate.cite_label", n=n))
            pieces.append(
                f'<button type="button" class="cite" data-n="{n}" aria-label="{label}">[{n}]</button>'
            )
            last = m.end()
        pieces.append(str(escape(para[last:])))
        out.append("<p>" + "".join(pieces).replace("\n", "<br>") + "</p>")
    return Markup("".join(out))


def translator(request: Request) -> Translator:
    user = optional_user(request)
    lang = negotiate(
        request.cookies.get(COOKIE), user.locale if user else None, request.headers.get("accept-language")
    )
    return Translator(lang)


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page with the signed-in user, the locale and a CSRF token for its forms."""
    t = translator(request)
    token = csrf_token(request)
    html = env.get_template(template).render(
        request=request,
        user=optional_user(request),
        t=t,
        lang=t.lang,
        csrf=token,
        js_messages=t.js(),
        speech_html=lambda text, cites=None: speech_html(text, t, cites),
        formats=formats(),
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    new_anon = getattr(request.state, "new_anon", None)
    if new_anon:
        response.set_cookie(
            ANON_COOKIE, new_anon, httponly=True, samesite="lax", secure=is_https(request), path="/"
        )
    return response
