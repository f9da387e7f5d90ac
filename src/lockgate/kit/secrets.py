"""API key generation and hashing, password hashing.

API keys carry 256 bits of entropy, so a single SHA-256 is enough to store them safely and keeps
authentication fast; passwords are low-entropy and get argon2id. The master key may be chosen by a
person (`master_key` in the config): it is stored salted, so a database dump gives no precomputed-table
or cross-install shortcut to it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
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


# A salted master-key hash fits the 64 characters of a key hash: 8 bytes of salt, 24 of HMAC-SHA-256.
_SALT_BYTES, _DIGEST_HEX = 8, 48


def salted_key_hash(key: str, salt: bytes | None = None) -> str:
    """`salt hex + HMAC-SHA-256(salt, key)` truncated to 192 bits: 64 hex characters."""
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    digest = hmac.new(salt, key.encode(), hashlib.sha256).hexdigest()[:_DIGEST_HEX]
    return salt.hex() + digest


def matches_salted(key: str, stored: str) -> bool:
    """Whether `key` is the one `stored` (from `salted_key_hash`) was made from; constant time."""
    try:
        salt = bytes.fromhex(stored[: 2 * _SALT_BYTES])
    except ValueError:
        return False
    return hmac.compare_digest(salted_key_hash(key, salt), stored)


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
