"""Password hashing (argon2id, argon2-cffi's defaults) and random tokens stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
MIN_PASSWORD = 8

# A hash of a random password: verifying against it when the user does not exist costs the same
# time as a real check, so response times do not reveal which user names exist.
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


class PasswordError(ValueError):
    """A password that does not meet the rules."""


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise PasswordError(f"a password has at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise PasswordError("a password has at most 1024 characters")


def hash_password(password: str) -> str:
    check_new_password(password)
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; constant work whether or not there is a stored hash."""
    try:
        return _hasher.verify(stored_hash or _DUMMY, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Tokens are long and random, so a plain SHA-256 is enough to store them unreadably."""
    return hashlib.sha256(token.encode()).hexdigest()
