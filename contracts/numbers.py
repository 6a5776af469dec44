"""Vertragsnummer: VR-<year>-<serial, 7 digits>-<check digit>, e.g. VR-2026-0000042-7.

The serial is the contract's database id (unique by construction, no counter to contend for); the
check digit (Luhn over year and serial) makes a mistyped digit or two swapped neighbours a number that
does not exist rather than someone else's."""

from __future__ import annotations

import re

PATTERN = re.compile(r"^VR-(\d{4})-(\d{7})-(\d)$")


def luhn_digit(digits: str) -> int:
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def contract_number(year: int, serial: int) -> str:
    body = f"{year:04d}{serial:07d}"
    return f"VR-{year:04d}-{serial:07d}-{luhn_digit(body)}"
