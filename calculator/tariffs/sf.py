"""Schadenfreiheitsklassen (SF-Klassen) for Pkw: M, S, 0, ½, 1 … 50 (worst to best)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
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


# A Rückstufungstabelle: per SF class the class of the next year after 1, 2, … claims (as many
# columns as the tariff's malus_from − 1; from malus_from claims on the class is M).
Rueckstufung = dict[SFClass, tuple[SFClass, ...]]

M, S, ZERO, HALF, ONE = SFClass("M"), SFClass("S"), SFClass("0"), SFClass("1/2"), SFClass("1")
BEST = SFClass("50")


def next_year_class(
    current: SFClass,
    claims: int,
    table: Rueckstufung,
    *,
    insured_from: date,
    year: int,
    rabattschutz: bool = False,
    rabattschutz_min_years: int = 4,
    malus_from: int = 3,
) -> SFClass:
    """The SF class for the year after `year` (one of KH or VK: they move separately), as the motor
    seed describes it. claims: reported claims of `year` that count (rückstufungswirksam).

    - Rabattschutz: one claim a year without Rückstufung (the class stays), while the class is at
      least `rabattschutz_min_years` (it ends at SF 3 or less);
    - `malus_from` or more claims (the seed: three): M; fewer: the Rückstufungstabelle;
    - claim-free: M and S → SF 1; 0 → SF 1 if the contract ran on 1 January, ½ if it began by 1 July,
      else 0; ½ → SF 1 after at least 180 insured days in the year, else ½; otherwise one class up
      (at most SF 50)."""
    if claims < 0:
        raise ValueError("claims must not be negative")
    if claims and rabattschutz and current.years >= rabattschutz_min_years:
        claims -= 1
        if not claims:
            return current
    if claims >= malus_from:
        return M
    if claims:
        return table[current][claims - 1]
    if current in (M, S):
        return ONE
    if current == ZERO:
        if insured_from <= date(year, 1, 1):
            return ONE
        return HALF if insured_from <= date(year, 7, 1) else ZERO
    if current == HALF:
        first = max(insured_from, date(year, 1, 1))
        return ONE if (date(year, 12, 31) - first).days + 1 >= 180 else HALF
    return SFClass(str(min(current.years + 1, BEST.years)))
