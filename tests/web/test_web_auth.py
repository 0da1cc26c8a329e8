"""Accounts, sessions, CSRF, API tokens, limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web_app import make_app
from web_helpers import PASSWORD, csrf_from, login

from banron.runtime import Runtime
from banron.store.accounts import AccountError, AccountStore
from banron.web.config import WebConfig
from banron.web.limits import RateLimiter
from banron.web.passwords import hash_password, token_hash, verify_password


def test_passwords_are_argon2_hashed_and_verified() -> None:
    digest = hash_password("a long password")
    assert digest.startswith("$argon2id$") and "a long password" not in digest
    assert verify_password(digest, "a long password")
    assert not verify_password(digest, "a long passwore")
    assert not verify_password(None, "anything")
    assert not verify_password("not a hash", "anything")


def test_account_store_migrations_and_rules(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "a.sqlite")
    AccountStore(tmp_path / "a.sqlite")  # migrations apply once
    u = store.add_user(name="민지", role="student", password_hash="h")
    with pytest.raises(AccountError):
        store.add_user(name="민지", role="student", password_hash="h")
    with pytest.raises(AccountError):
        store.add_user(name="bad name!", role="student", password_hash="h")
    t = store.add_user(name="teacher", role="teacher", password_hash="h")
    c = store.create_class(name="1반", teacher_id=t.id)
    store.add_member(class_id=c.id, user_id=u.id)
    assert store.teaches(teacher_id=t.id, student_id=u.id)
    assert not store.teaches(teacher_id=u.id, student_id=t.id)
    assert [m.name for m in store.members(c.id)] == ["민지"]
    m = store.create_motion(text="교복을 폐지해야 한다", lang="ko", kb="uniforms", created_by=t.id)
    assert store.get_motion(m.id) == m and m.to_motion().text == "교복을 폐지해야 한다"
    store.update_motion(motion_id=m.id, text="교복을 없애야 한다", lang="ko", kb="uniforms")
    assert store.list_motions()[0].text == "교복을 없애야 한다"
    import sqlite3

    with sqlite3.connect(tmp_path / "a.sqlite") as db:
        names = [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY name")]
    assert names == ["accounts_m001_users_sessions_classes", "accounts_m002_motions"]


def test_sign_in_sets_a_hardened_cookie_and_sign_out_ends_the_session(web: tuple[FastAPI, Any]) -> None:
    app, _ = web
    client = TestClient(app)
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"name": "alice", "password": PASSWORD, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    cookie = r.headers["set-cookie"]
    assert "banron_session=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # plain http on loopback
    assert client.get("/api/me").json()["name"] == "alice"
    token = csrf_from(client.get("/account").text)
    assert client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert client.get("/api/me").status_code == 401
    assert client.get("/debates", follow_redirects=False).headers["location"].startswith("/login")


def test_over_https_the_cookie_is_secure(web: tuple[FastAPI, Any]) -> None:
    client = TestClient(web[0], base_url="https://testserver")
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"name": "alice", "password": PASSWORD, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert "Secure" in r.headers["set-cookie"]


def test_wrong_passwords_and_unknown_users_are_refused_alike(web: tuple[FastAPI, Any]) -> None:
    client = TestClient(web[0])
    token = csrf_from(client.get("/login").text)
    for name, password in [("alice", "wrong password"), ("nobody", PASSWORD)]:
        r = client.post("/login", data={"name": name, "password": password, "csrf_token": token})
        assert r.status_code == 401 and "banron_session" not in r.headers.get("set-cookie", "")


def test_forms_and_api_writes_need_the_csrf_token(web: tuple[FastAPI, Any]) -> None:
    app, _ = web
    alice = login(app, "alice")
    data = {"motion_id": "phone-ban", "format": "free", "side": "pro"}
    assert alice.client.post("/debates", data=data, follow_redirects=False).status_code == 403
    bad = {**data, "csrf_token": "0" * 40}
    assert alice.client.post("/debates", data=bad, follow_redirects=False).status_code == 403
    r = alice.client.post("/api/debates", json={"motion_id": "phone-ban", "side": "pro"})
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    ok = alice.api("POST", "/api/debates", json={"motion_id": "phone-ban", "side": "pro"})
    assert ok.status_code == 201
    # The token is bound to the session: another user's token does not work.
    bob = login(app, "bob")
    stolen = alice.client.post("/debates", data={**data, "csrf_token": bob.csrf}, follow_redirects=False)
    assert stolen.status_code == 403
    # A cross-site Origin is refused even with a valid token.
    r = alice.api("POST", "/api/debates", json={"motion_id": "phone-ban", "side": "pro"},
                  headers={"Origin": "https://evil.example"})  # fmt: skip
    assert r.status_code == 403
    # Sign-in itself needs the token (login CSRF).
    fresh = TestClient(app)
    fresh.get("/login")
    r = fresh.post("/login", data={"name": "alice", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403


def test_api_tokens_authenticate_without_cookies_or_csrf(web: tuple[FastAPI, Any]) -> None:
    app, _ = web
    alice = login(app, "alice")
    page = alice.post_form("/account/token", {})
    token = page.text.split('id="new-token" class="mono" readonly value="')[1].split('"')[0]  # type: ignore[attr-defined]
    assert token.startswith("brn_")
    stored = app.state.banron.accounts.user_by_api_token(token_hash(token))
    assert stored.name == "alice"
    api = TestClient(app)
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/me", headers=headers).json()["name"] == "alice"
    r = api.post("/api/debates", json={"motion_id": "phone-ban", "side": "con"}, headers=headers)
    assert r.status_code == 201
    # A bad token is a 401, and a session cookie next to it does not help.
    assert api.get("/api/me", headers={"Authorization": "Bearer brn_nope"}).status_code == 401
    r = alice.client.get("/api/me", headers={"Authorization": "Bearer brn_nope"})
    assert r.status_code == 401
    # A new token replaces the old one.
    alice.post_form("/account/token", {})
    assert api.get("/api/me", headers=headers).status_code == 401


def test_changing_the_password_ends_every_session(web_runtime: Runtime, tmp_path: Path) -> None:
    app, _ = make_app(web_runtime, tmp_path)
    alice, laptop = login(app, "alice"), login(app, "alice")
    r = alice.post_form("/account/password", {"current": "nope nope nope", "new": "another password"})
    assert r.status_code == 400  # type: ignore[attr-defined]
    r = alice.post_form("/account/password", {"current": PASSWORD, "new": "short"})
    assert r.status_code == 400  # type: ignore[attr-defined]
    r = alice.post_form("/account/password", {"current": PASSWORD, "new": "another password"})
    assert r.status_code == 303  # type: ignore[attr-defined]
    assert laptop.client.get("/api/me").status_code == 401
    login(app, "alice", "another password")
    app.state.banron.close()


def test_admins_add_users_teachers_cannot(web: tuple[FastAPI, Any]) -> None:
    app, _ = web
    admin = login(app, "admin")
    r = admin.post_form(
        "/admin/users", {"name": "newteacher", "role": "teacher", "password": "a fine password"}
    )
    assert r.status_code == 303  # type: ignore[attr-defined]
    assert app.state.banron.accounts.get_user_by_name("newteacher").role == "teacher"
    r = admin.post_form(
        "/admin/users", {"name": "newteacher", "role": "teacher", "password": "a fine password"}
    )
    assert r.status_code == 400  # type: ignore[attr-defined]
    teacher = login(app, "teacher")
    r = teacher.post_form("/admin/users", {"name": "x1", "role": "admin", "password": "a fine password"})
    assert r.status_code == 403  # type: ignore[attr-defined]


def test_turn_submissions_are_rate_limited(web_runtime: Runtime, tmp_path: Path) -> None:
    app, _ = make_app(web_runtime, tmp_path, WebConfig(turns_per_minute=2))
    alice = login(app, "alice")
    r = alice.post_form("/debates", {"motion_id": "phone-ban", "format": "free", "side": "pro"})
    did = r.headers["location"].rsplit("/", 1)[1]  # type: ignore[attr-defined]
    speech = {"text": "학교에서 스마트폰을 금지하면 수업 집중도가 높아집니다."}
    assert alice.api("POST", f"/api/debates/{did}/turns", json=speech).status_code == 201
    alice.api("POST", f"/api/debates/{did}/speak")
    assert alice.api("POST", f"/api/debates/{did}/turns", json=speech).status_code == 201
    alice.api("POST", f"/api/debates/{did}/speak")
    r = alice.api("POST", f"/api/debates/{did}/turns", json=speech)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    bob = login(app, "bob")  # limits are per user
    r = bob.post_form("/debates", {"motion_id": "phone-ban", "format": "free", "side": "pro"})
    did_b = r.headers["location"].rsplit("/", 1)[1]  # type: ignore[attr-defined]
    assert bob.api("POST", f"/api/debates/{did_b}/turns", json=speech).status_code == 201
    app.state.banron.close()


def test_rate_limiter_window() -> None:
    now = [0.0]
    limiter = RateLimiter(2, 60.0, clock=lambda: now[0])
    assert limiter.hit("a") == 0 and limiter.hit("a") == 0
    assert limiter.hit("a") == pytest.approx(60.0)
    now[0] = 30.0
    assert limiter.hit("a") == pytest.approx(30.0)
    now[0] = 60.5
    assert limiter.hit("a") == 0


def test_request_bodies_are_size_limited(web_runtime: Runtime, tmp_path: Path) -> None:
    app, _ = make_app(web_runtime, tmp_path, WebConfig(max_upload_bytes=200_000, max_body_bytes=50_000))
    teacher = login(app, "teacher")
    big = b"x" * 300_000
    r = teacher.api("POST", "/api/kbs/big/upload", files=[("files", ("big.txt", big, "text/plain"))])
    assert r.status_code == 413
    alice = login(app, "alice")
    r = alice.api(
        "POST",
        "/api/debates",
        content=b"{" + b" " * 60_000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413

    # A chunked body (no Content-Length) is cut off too.
    def chunks() -> Any:
        for _ in range(10):
            yield b" " * 10_000

    r = alice.api("POST", "/api/debates", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    app.state.banron.close()


def test_pages_send_security_headers(web: tuple[FastAPI, Any]) -> None:
    r = TestClient(web[0]).get("/login")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["cache-control"] == "no-store"


def test_login_attempts_are_rate_limited(web_runtime: Runtime, tmp_path: Path) -> None:
    app, _ = make_app(web_runtime, tmp_path)
    client = TestClient(app)
    token = csrf_from(client.get("/login").text)
    codes = [
        client.post(
            "/login", data={"name": "carol", "password": "guess guess", "csrf_token": token}
        ).status_code
        for _ in range(11)
    ]
    assert codes[:10] == [401] * 10 and codes[10] == 429
    app.state.banron.close()
