"""Password rule (seed 000: 8+ characters, an upper-case letter, a digit, a special character),
common-password check and argon2id hashing."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


@dataclass(frozen=True)
class HashCost:
    """argon2id's cost (PASSWORD_HASH_TIME_COST, _MEMORY_KIB, _PARALLELISM); the defaults are the
    library's, RFC 9106's second recommendation (t=3, 64 MiB, p=4)."""

    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 4


# Production refuses a cost below OWASP's minimum for argon2id (19 MiB, two passes).
MIN_PRODUCTION_COST = HashCost(time_cost=2, memory_kib=19456, parallelism=1)

_DUMMY_PASSWORD = "timing-equaliser-not-a-password"  # noqa: S105 (hashed, never accepted)
_hasher = PasswordHasher()
# Stands in for a missing account so a login with an unknown e-mail costs as much as a wrong password.
_DUMMY_HASH = _hasher.hash(_DUMMY_PASSWORD)


def configure(cost: HashCost) -> None:
    """Hash new passwords at this cost (set once when the app starts). A stored hash keeps the cost
    it was made with; a login (staff or customer) rehashes it when the cost has changed (``needs_rehash``)."""
    global _hasher, _DUMMY_HASH
    if (_hasher.time_cost, _hasher.memory_cost, _hasher.parallelism) == (
        cost.time_cost,
        cost.memory_kib,
        cost.parallelism,
    ):
        return
    hasher = PasswordHasher(time_cost=cost.time_cost, memory_cost=cost.memory_kib, parallelism=cost.parallelism)
    _hasher, _DUMMY_HASH = hasher, hasher.hash(_DUMMY_PASSWORD)


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if the password matches; constant work whether or not there is a hash."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


@cache
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    ours = files("core.data").joinpath("common_passwords_de.txt").read_text("utf-8")
    extra = {line.strip().lower() for line in ours.splitlines() if line.strip() and not line.startswith("#")}
    return frozenset(FREQUENCY_LISTS["passwords"]) | extra


_EDGE_NOISE = re.compile(r"^[\W\d_]+|[\W\d_]+$")


def is_common(password: str) -> bool:
    """True for a listed password, also when decorated with digits or symbols ('Sommer2024!')."""
    lowered = password.casefold()
    stem = _EDGE_NOISE.sub("", lowered)
    common = _common_passwords()
    return lowered in common or (len(stem) >= 3 and stem in common)


def _is_special(char: str) -> bool:
    return (not char.isalnum() and not char.isspace()) or unicodedata.category(char).startswith("S")


@dataclass(frozen=True)
class PasswordRule:
    min_length: int = 8
    max_length: int = 128

    def problems(self, password: str, email: str | None = None) -> list[str]:
        """German messages for every part of the rule the password breaks (empty: accepted)."""
        found: list[str] = []
        if len(password) < self.min_length:
            found.append(f"Das Passwort muss mindestens {self.min_length} Zeichen lang sein.")
        if len(password) > self.max_length:
            found.append(f"Das Passwort darf höchstens {self.max_length} Zeichen lang sein.")
        if not any(c.isupper() for c in password):
            found.append("Das Passwort muss mindestens einen Großbuchstaben enthalten.")
        if not any(c.isdigit() for c in password):
            found.append("Das Passwort muss mindestens eine Zahl enthalten.")
        if not any(_is_special(c) for c in password):
            found.append("Das Passwort muss mindestens ein Sonderzeichen enthalten (z. B. $, %, &).")
        if email:
            local = email.split("@", 1)[0].casefold()
            if email.casefold() in password.casefold() or (len(local) >= 3 and local in password.casefold()):
                found.append("Das Passwort darf Ihre E-Mail-Adresse nicht enthalten.")
        if not found and is_common(password):
            found.append("Dieses Passwort ist zu verbreitet und leicht zu erraten. Bitte wählen Sie ein anderes.")
        return found
