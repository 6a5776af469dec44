"""Schadenfreiheitsklassen (SF-Klassen) for Pkw: M, S, 0, ½, 1 … 50 (worst to best)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

_ORDER: tuple[str, ...] = ("M", "S", "0", "1/2", *(str(n) for n in range(1, 51)))
_RANK = {key: rank for rank, key in enumerate(_ORDER)}
_PATTERN = re.compile(r"^\s*(?:SF\s*-?\s*)?(M|S|0|1/2|½|[1-9]|[1-4][0-9]|50)\s*$", re.IGNORECASE)


@total_ordering
@dataclass(frozen=True)
class SFClass:
    """An SF class; ordering follows the no-claims years (a greater class is a better one)."""

    key: str

    def __post_init__(self) -> None:
        if self.key not in _RANK:
            raise ValueError(f"unknown SF class {self.key!r}")

    @classmethod
    def parse(cls, text: str) -> SFClass:
        """'SF 12', '12', '½', '1/2', 'M', 's' → SFClass; ValueError otherwise."""
        match = _PATTERN.match(text)
        if not match:
            raise ValueError(f"not an SF class: {text!r}")
        key = match.group(1).upper().replace("½", "1/2")
        return cls(key)

    @property
    def rank(self) -> int:
        return _RANK[self.key]

    @property
    def years(self) -> int:
        """Claim-free years the class stands for (0 for M, S, 0 and ½)."""
        return int(self.key) if self.key.isdigit() else 0

    @property
    def label(self) -> str:
        return {"M": "M", "S": "S", "0": "0", "1/2": "SF ½"}.get(self.key, f"SF {self.key}")

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, SFClass):
            return NotImplemented
        return self.rank < other.rank

    def __str__(self) -> str:
        return self.label


ALL_SF_CLASSES: tuple[SFClass, ...] = tuple(SFClass(k) for k in _ORDER)
