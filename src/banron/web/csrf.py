"""CSRF protection for every state-changing request authenticated by a cookie.

The token is an HMAC of the cookie that authenticates the browser (the session cookie, or before
sign-in an anonymous cookie set with the login form), keyed by this installation's secret: nothing
to store, and a token from one session is useless in another. Pages put it in every form
(``csrf_token`` field) and in a meta tag the scripts send back as ``X-CSRF-Token``. Requests that
carry an ``Authorization`` header authenticate with it alone (cookies are ignored), so they need no
token. A cross-site ``Origin`` is refused outright.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request

from banron.web.auth import SESSION_COOKIE, Forbidden, get_state

ANON_COOKIE = "banron_anon"
FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class CSRFError(Forbidden):
    """A state-changing request without a valid CSRF token."""


def _token_for(secret: bytes, cookie: str) -> str:
    return hmac.new(secret, b"csrf:" + cookie.encode(), hashlib.sha256).hexdigest()[:40]


def _cookie(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(ANON_COOKIE)


def csrf_token(request: Request) -> str:
    """The token for forms on this page; sets up an anonymous cookie for visitors without one."""
    cookie = _cookie(request) or getattr(request.state, "new_anon", None)
    if cookie is None:
        cookie = request.state.new_anon = secrets.token_urlsafe(24)
    return _token_for(get_state(request).secret, cookie)


async def csrf_protect(request: Request) -> None:
    """App-wide dependency: every POST/PUT/PATCH/DELETE passes here before its route runs."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise CSRFError
    if request.headers.get("authorization") is not None:
        return  # bearer-token request: cookies are not used to authenticate it
    cookie = _cookie(request)
    if cookie is None:
        raise CSRFError
    sent = request.headers.get(HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(_FORM_TYPES):
        value = (await request.form()).get(FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, _token_for(get_state(request).secret, cookie)):
        raise CSRFError
