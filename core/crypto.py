"""Secrets at rest (issue #25 item 11): what must be readable again — the TOTP secrets of the
two-factor login — is stored encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under keys from the
environment. SECRETS_KEYS lists Fernet keys, comma-separated, newest first (MultiFernet): values are
encrypted with the newest and read with any, so a key is rotated by putting a new one in front and
running `flask secrets rotate`. Production refuses to start without SECRETS_KEYS; development and
the tests derive one key from SECRET_KEY."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

TOKEN_PREFIX = "gAAAAA"  # noqa: S105 — every Fernet token (version byte 0x80, a timestamp) starts so


class SecretError(ValueError):
    pass


def derived_key(secret_key: str) -> str:
    """A Fernet key derived from SECRET_KEY (development and tests only)."""
    digest = hashlib.sha256(b"vermittler-rechner/secrets-at-rest:" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def keys_from_config(config: Mapping[str, Any]) -> list[str]:
    raw = str(config.get("SECRETS_KEYS") or "")
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    return keys or [derived_key(str(config["SECRET_KEY"]))]


class SecretBox:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise SecretError("no key")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except (ValueError, TypeError) as error:
            raise SecretError("SECRETS_KEYS: every key must be a Fernet key (32 url-safe base64 bytes)") from error

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SecretBox:
        return cls(keys_from_config(config))

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as error:
            raise SecretError("a stored secret cannot be read with SECRETS_KEYS (a key missing?)") from error

    def rotate(self, token: str) -> str:
        """The same secret, encrypted with the newest key."""
        return self._fernet.rotate(token.encode()).decode()


def is_encrypted(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX)
