"""A tariff's contract terms (the AVB's numbers that differ between insurers): the Hauptfälligkeit,
how a part of a year is charged (pro rata temporis) and the notice of an ordinary Kündigung.

They are tariff data (the `[contract]` table of a tariff file), not code: a real insurer's tariff
states its own."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

ANNIVERSARY = "jahrestag"
# the pro-rata methods a tariff can name: "tage/365" — the days of the part ÷ 365 (every year,
# leap years too), the usual "pro rata temporis" of German AVB
PRO_RATA_METHODS = {"tage/365": 365}
_MONTH_DAY = re.compile(r"^(\d\d)-(\d\d)$")


class TermsError(ValueError):
    """The `[contract]` table of a tariff file is inconsistent."""


@dataclass(frozen=True)
class ContractTerms:
    """main_due: the Hauptfälligkeit as (month, day) every year, or None for the anniversary of the
    start; days_per_year: the divisor of pro rata temporis; notice_months: an ordinary Kündigung
    must arrive at least this many months before the Hauptfälligkeit (§ 11 Abs. 2 VVG: one to
    three months, the same for both sides)."""

    main_due: tuple[int, int] | None
    pro_rata: str
    notice_months: int
    # after a claim was settled (paid or declined) either side may cancel within this many months
    # (§§ 92, 111 VVG; AKB G.2.3, G.3.3: one month)
    claim_notice_months: int = 1
    # Schadenrückkauf (AKB I.5): the customer may repay a paid claim within this many months after
    # the insurer named the amount, and it does not count; None: the tariff has no Schadenrückkauf
    buyback_months: int | None = None

    @property
    def days_per_year(self) -> int:
        return PRO_RATA_METHODS[self.pro_rata]

    @property
    def main_due_label(self) -> str:
        """'01.01.' or 'Jahrestag des Versicherungsbeginns' (for documents)."""
        if self.main_due is None:
            return "Jahrestag des Versicherungsbeginns"
        return f"{self.main_due[1]:02d}.{self.main_due[0]:02d}."


def parse_terms(raw: Any) -> ContractTerms:
    """[contract] main_due = "MM-DD" | "jahrestag", pro_rata = "tage/365", notice_months = 1…3, and
    optionally claim_notice_months (default 1) and buyback_months (Schadenrückkauf; default none)."""
    if not isinstance(raw, Mapping):
        raise TermsError("the tariff needs a [contract] table (main_due, pro_rata, notice_months)")
    try:
        due_text, method, notice = str(raw["main_due"]), str(raw["pro_rata"]), raw["notice_months"]
    except KeyError as missing:
        raise TermsError(f"[contract] lacks {missing}") from None
    main_due: tuple[int, int] | None = None
    if due_text != ANNIVERSARY:
        match = _MONTH_DAY.match(due_text)
        if not match:
            raise TermsError(f'[contract] main_due must be "MM-DD" or "{ANNIVERSARY}", not {due_text!r}')
        month, day = int(match.group(1)), int(match.group(2))
        try:
            date(2025, month, day)  # a day every year has (no 29 February)
        except ValueError:
            raise TermsError(f"[contract] main_due {due_text!r} is not a day of every year") from None
        main_due = (month, day)
    if method not in PRO_RATA_METHODS:
        raise TermsError(f"[contract] pro_rata must be one of {sorted(PRO_RATA_METHODS)}, not {method!r}")
    if not isinstance(notice, int) or isinstance(notice, bool) or not 1 <= notice <= 3:
        raise TermsError("[contract] notice_months must be a whole number of months from 1 to 3 (§ 11 Abs. 2 VVG)")
    claim_notice = raw.get("claim_notice_months", 1)
    if not isinstance(claim_notice, int) or isinstance(claim_notice, bool) or claim_notice < 1:
        raise TermsError("[contract] claim_notice_months must be a whole number of months, at least 1 (§§ 92, 111 VVG)")
    buyback = raw.get("buyback_months")
    if buyback is not None and (not isinstance(buyback, int) or isinstance(buyback, bool) or buyback < 1):
        raise TermsError("[contract] buyback_months must be a whole number of months, at least 1")
    return ContractTerms(main_due, method, notice, claim_notice, buyback)
