"""Small helpers the route modules share."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import RedirectResponse


def see_other(path: str, **query: str) -> RedirectResponse:
    """Redirect after a form POST (303: the browser follows with GET)."""
    url = f"{path}?{urlencode(query)}" if query else path
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths: never an absolute URL or a scheme-relative //host."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return default
