"""Symmetric encryption of secrets at rest (provider keys), with Fernet."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from lockgate.kit.private_files import private_dir


class SecretBox:
    """Encrypts and decrypts small secrets. Any passphrase works: it is stretched to a Fernet key."""

    def __init__(self, secret: str):
        key = base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())
        self._fernet = Fernet(key)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("cannot decrypt a stored secret: was secret_key changed?") from exc


def load_or_create_secret(configured: str | None, data_dir: Path) -> str:
    """The configured secret, else one generated once and kept in data_dir/secret.key (mode 0600)."""
    if configured:
        return configured
    path = data_dir / "secret.key"
    if path.exists():
        return path.read_text().strip()
    private_dir(data_dir)
    secret = Fernet.generate_key().decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret


def mask_secret(secret: str | None) -> str | None:
    """What an API may show of a stored secret."""
    if not secret:
        return None
    return f"{secret[:3]}...{secret[-2:]}" if len(secret) > 8 else "***"
