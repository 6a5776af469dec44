"""Secrets in links and codes: generated with `secrets`, stored only as hashes.

Link tokens have 256 bits, so a plain SHA-256 is a safe lookup key. Short codes (6 digits, 12
letters) would fall to a brute force of a leaked hash, so they are stored as HMAC-SHA256 keyed with
the app's SECRET_KEY: a copy of the database alone does not reveal them."""

from __future__ import annotations

import hashlib
import hmac
import secrets

# no I/1, O/0: letter codes are typed from paper
LETTER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_link_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_sms_code(length: int) -> str:
    return "".join(str(secrets.randbelow(10)) for _ in range(length))


def new_letter_code(length: int) -> str:
    return "".join(secrets.choice(LETTER_CODE_ALPHABET) for _ in range(length))


def format_letter_code(code: str) -> str:
    """ABCDEFGHJKLM → ABCD-EFGH-JKLM (easier to read and type)."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalize_code(code: str) -> str:
    """What the customer typed: spaces and dashes out, upper case, and O/I read as 0/1 never occur."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def code_hmac(secret_key: str, purpose: str, code: str) -> str:
    return hmac.new(secret_key.encode(), f"{purpose}:{code}".encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of any two strings (compare_digest refuses non-ASCII str, e.g. an
    Arabic-Indic or full-width digit typed into a code field: compared as UTF-8 bytes instead)."""
    return hmac.compare_digest(a.encode(), b.encode())
