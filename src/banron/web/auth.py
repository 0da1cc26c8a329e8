"""Who is asking: session cookies for the browser, bearer tokens for integrators; roles; debate access.

A session is a random token in an HttpOnly, SameSite=Lax cookie (Secure when served over https);
the store keeps only its SHA-256. An API token (``Authorization: Bearer brn_...``, made on the
account page or with ``banron users token``) authenticates the same user without a cookie, and so
needs no CSRF token. When an Authorization header is present the session cookie is ignored.

Debates are read by their owner, by a teacher of a class the owner is in, and by admins; only the
owner speaks in them. Anything else is a 404, so a debate id reveals nothing about its existence.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from banron.store.accounts import User
from banron.store.sqlite import DebateRecord
from banron.web.passwords import new_token, token_hash

if TYPE_CHECKING:
    from banron.web.state import WebState

SESSION_COOKIE = "banron_session"
API_TOKEN_PREFIX = "brn_"


class LoginRequired(Exception):
    """No (valid) session or token: pages redirect to the login form, the API answers 401."""


class Forbidden(Exception):
    """Signed in, but this role may not do this (403)."""


class NotFound(Exception):
    """No such thing, or nothing this user may see (404)."""


def get_state(request: Request) -> WebState:
    state: WebState = request.app.state.banron
    return state


StateDep = Annotated["WebState", Depends(get_state)]


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def start_session(request: Request, response: Response, state: WebState, user: User) -> None:
    token = new_token()
    days = state.config.session_days
    expires = datetime.now(UTC) + timedelta(days=days)
    state.accounts.create_session(
        user_id=user.id, token_hash=token_hash(token), expires_at=expires.isoformat(timespec="seconds")
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=days * 86400,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path="/",
    )


def end_session(request: Request, response: Response, state: WebState) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        state.accounts.delete_session(token_hash(token))
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=is_https(request))


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def optional_user(request: Request) -> User | None:
    """The signed-in user, or None (cached on the request)."""
    if hasattr(request.state, "user"):
        cached: User | None = request.state.user
        return cached
    state = get_state(request)
    user: User | None = None
    token = bearer_token(request)
    if token is not None:  # an Authorization header: the cookie is not consulted
        request.state.via_token = True
        if token.startswith(API_TOKEN_PREFIX):
            user = state.accounts.user_by_api_token(token_hash(token))
    else:
        request.state.via_token = False
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            user = state.accounts.session_user(token_hash(cookie))
    request.state.user = user
    return user


def require_user(request: Request) -> User:
    user = optional_user(request)
    if user is None:
        raise LoginRequired
    return user


def require_teacher(user: Annotated[User, Depends(require_user)]) -> User:
    if not user.is_teacher:
        raise Forbidden
    return user


def require_admin(user: Annotated[User, Depends(require_user)]) -> User:
    if user.role != "admin":
        raise Forbidden
    return user


CurrentUser = Annotated[User, Depends(require_user)]
MaybeUser = Annotated[User | None, Depends(optional_user)]
TeacherUser = Annotated[User, Depends(require_teacher)]
AdminUser = Annotated[User, Depends(require_admin)]


# -- debates ---------------------------------------------------------------------------------------
def owner_key(user: User) -> str:
    """How a user is recorded as a debate's owner."""
    return str(user.id)


def can_read(state: WebState, user: User, record: DebateRecord) -> bool:
    if user.role == "admin" or record.owner == owner_key(user):
        return True
    if user.role == "teacher" and record.owner and record.owner.isdigit():
        return state.accounts.teaches(teacher_id=user.id, student_id=int(record.owner))
    return False


def can_review_student(state: WebState, user: User, student: User) -> bool:
    """Whether ``user`` may see ``student``'s debates and results."""
    if user.role == "admin" or user.id == student.id:
        return True
    return user.role == "teacher" and state.accounts.teaches(teacher_id=user.id, student_id=student.id)


def readable_debate(state: WebState, user: User, debate_id: str) -> DebateRecord:
    record = state.debates.get_debate(debate_id)
    if record is None or not can_read(state, user, record):
        raise NotFound
    return record


def own_debate(state: WebState, user: User, debate_id: str) -> DebateRecord:
    """A debate the user may speak in: their own."""
    record = state.debates.get_debate(debate_id)
    if record is None or record.owner != owner_key(user):
        if record is not None and can_read(state, user, record):
            raise Forbidden  # a teacher reviewing: may read, not speak
        raise NotFound
    return record
