"""API key generation and hashing, password hashing.

API keys carry 256 bits of entropy, so a single SHA-256 is enough to store them safely and keeps
authentication fast; passwords are low-entropy and get argon2id.
"""

from __future__ import annotations

import functools
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

KEY_PREFIX = "sk-"
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so a wrong email costs as much as a wrong password.
    Made on first use: an argon2 hash at import cost every start ~100 ms."""
    return _hasher.hash("lockgate-dummy-password")


def generate_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def display_api_key(key: str) -> str:
    """The truncated form shown in lists: enough to recognise a key, useless to an attacker."""
    return f"{key[:7]}...{key[-4:]}"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
