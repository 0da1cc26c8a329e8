"""Pages for everyone: the front door, sign-in and out, the locale switch, the account page, admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from banron.store.accounts import NAME_RE, ROLES, AccountError
from banron.web.auth import (
    AdminUser,
    CurrentUser,
    MaybeUser,
    StateDep,
    end_session,
    get_state,
    start_session,
)
from banron.web.i18n import COOKIE, LOCALES
from banron.web.passwords import PasswordError, hash_password, new_token, token_hash, verify_password
from banron.web.render import page
from banron.web.routes.common import safe_next, see_other

router = APIRouter(include_in_schema=False)

FLASH = frozenset(
    {
        "saved",
        "created",
        "password_changed",
        "token_created",
        "user_created",
        "student_added",
        "ended",
        "stance_saved",
        "error",
    }
)


def flash(request: Request) -> str | None:
    msg = request.query_params.get("msg")
    return msg if msg in FLASH else None


@router.get("/")
def home(user: MaybeUser) -> Response:
    if user is None:
        return see_other("/login")
    return see_other("/teacher" if user.is_teacher else "/debates")


@router.get("/login")
def login_form(request: Request, user: MaybeUser, next: str = "/") -> Response:
    if user is not None:
        return see_other(safe_next(next))
    return page(request, "login.html", next=safe_next(next), error=None, name="")


@router.post("/login")
def login(
    request: Request,
    state: StateDep,
    name: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    key = f"{name}|{request.client.host if request.client else ''}"
    if state.login_limit.wait(key):
        return page(request, "login.html", 429, next=safe_next(next), error="login.too_many", name=name)
    user = state.accounts.get_user_by_name(name.strip())
    stored = state.accounts.password_hash(user.id) if user else None
    if user is None or not verify_password(stored, password):
        state.login_limit.hit(key)
        return page(request, "login.html", 401, next=safe_next(next), error="login.failed", name=name)
    response = see_other(safe_next(next))
    start_session(request, response, state, user)
    return response


@router.post("/logout")
def logout(request: Request, state: StateDep) -> Response:
    response = see_other("/login")
    end_session(request, response, state)
    return response


@router.post("/locale")
def set_locale(
    request: Request,
    user: MaybeUser,
    lang: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    response = see_other(safe_next(next))
    if lang in LOCALES:
        response.set_cookie(COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
        if user is not None:
            get_state(request).accounts.set_locale(user_id=user.id, locale=lang)
    return response


@router.get("/account")
def account(request: Request, user: CurrentUser) -> Response:
    return page(request, "account.html", flash=flash(request), token=None, error=None)


@router.post("/account/password")
def change_password(
    request: Request,
    user: CurrentUser,
    state: StateDep,
    current: Annotated[str, Form(max_length=1024)],
    new: Annotated[str, Form(max_length=1024)],
) -> Response:
    if not verify_password(state.accounts.password_hash(user.id), current):
        return page(request, "account.html", 400, flash=None, token=None, error="account.wrong_password")
    try:
        state.accounts.set_password(user_id=user.id, password_hash=hash_password(new))
    except PasswordError:
        return page(request, "account.html", 400, flash=None, token=None, error="account.weak_password")
    response = see_other("/login")  # every session of the user ends with a new password
    end_session(request, response, state)
    return response


@router.post("/account/token")
def create_token(request: Request, user: CurrentUser, state: StateDep) -> Response:
    token = new_token("brn_")
    state.accounts.set_api_token(user_id=user.id, token_hash=token_hash(token))
    return page(request, "account.html", flash="token_created", token=token, error=None)


# -- admin ----------------------------------------------------------------------------------------
@router.get("/admin/users")
def users_page(request: Request, user: AdminUser, state: StateDep) -> Response:
    return page(
        request,
        "admin/users.html",
        users=state.accounts.list_users(),
        roles=ROLES,
        flash=flash(request),
        error=None,
    )


@router.post("/admin/users")
def add_user(
    request: Request,
    user: AdminUser,
    state: StateDep,
    name: Annotated[str, Form(max_length=64)],
    role: Annotated[str, Form()],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    error = None
    if role not in ROLES:
        error = "admin.bad_role"
    elif not NAME_RE.match(name.strip()):
        error = "admin.bad_name"
    else:
        try:
            state.accounts.add_user(name=name.strip(), role=role, password_hash=hash_password(password))
        except PasswordError:
            error = "account.weak_password"
        except AccountError:
            error = "admin.name_taken"
    if error:
        users = state.accounts.list_users()
        return page(request, "admin/users.html", 400, users=users, roles=ROLES, flash=None, error=error)
    return see_other("/admin/users", msg="user_created")
