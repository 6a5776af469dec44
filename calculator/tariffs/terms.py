"""A tariff's contract terms (the AVB's numbers that differ between insurers): the Hauptfälligkeit,
how a part of a year is charged (pro rata temporis) and the notice of an ordinary Kündigung.

They are tariff data (the `[contract]` table of a tariff file), not code: a real insurer's tariff
states its own."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
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
    # an eVB stays valid at least until the contract start plus this many days (the motor seed:
    # the registration may come a little after the start); 0: no margin
    evb_margin_days: int = 0
    # Widerrufsfrist (§ 8 Abs. 1 VVG: 14 days; an insurer may grant more)
    withdrawal_days: int = 14
    # the offer's price holds this many days from its calculation (printed on the offer for the customer)
    offer_valid_days: int = 30

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
    margin = raw.get("evb_margin_days", 0)
    if not isinstance(margin, int) or isinstance(margin, bool) or not 0 <= margin <= 365:
        raise TermsError("[contract] evb_margin_days must be a whole number of days from 0 to 365")
    withdrawal = raw.get("withdrawal_days", 14)
    if not isinstance(withdrawal, int) or isinstance(withdrawal, bool) or withdrawal < 14:
        raise TermsError("[contract] withdrawal_days must be a whole number of days, at least 14 (§ 8 Abs. 1 VVG)")
    offer_days = raw.get("offer_valid_days", 30)
    if not isinstance(offer_days, int) or isinstance(offer_days, bool) or not 1 <= offer_days <= 365:
        raise TermsError("[contract] offer_valid_days must be a whole number of days from 1 to 365")
    return ContractTerms(main_due, method, notice, claim_notice, buyback, margin, withdrawal, offer_days)


# the Vertragsinformationen every tariff version hands over before the Antrag (§ 7 VVG, VVG-InfoV)
DOCUMENT_KEYS = ("avb", "ipid", "verbraucherinformationen")


@dataclass(frozen=True)
class ContractDocument:
    """One of a tariff version's Vertragsinformationen: the Allgemeine Versicherungsbedingungen (AKB
    or ARB), the Informationsblatt zu Versicherungsprodukten (IPID, EU 2017/1469) or the
    Verbraucherinformationen; its text is an HTML fragment (a Jinja template over the tariff's
    terms and the insurer) from a file beside the tariff file."""

    key: str
    title: str
    html: str


def parse_documents(raw: Any, read: Any) -> tuple[ContractDocument, ...]:
    """[documents.<key>] title = "…", file = "…" for every key of DOCUMENT_KEYS; `read(name)` gives
    a file's text (relative to the tariff file)."""
    if not isinstance(raw, Mapping) or set(raw) != set(DOCUMENT_KEYS):
        raise TermsError(f"the tariff needs [documents.*] for {', '.join(DOCUMENT_KEYS)} (§ 7 VVG)")
    documents = []
    for key in DOCUMENT_KEYS:
        entry = raw[key]
        try:
            title, name = str(entry["title"]), str(entry["file"])
        except (KeyError, TypeError):
            raise TermsError(f"[documents.{key}] needs title and file") from None
        documents.append(ContractDocument(key, title, read(name)))
    return tuple(documents)


# the kinds of claim a claim event can map to (contracts.models.ClaimKind's values)
CLAIM_KINDS = ("haftpflicht", "vollkasko", "teilkasko", "rechtsschutz")
NO_WAITING = "keine"  # a claim event whose Leistungsart has no Wartezeit (e.g. Schadenersatz-Rechtsschutz)


@dataclass(frozen=True)
class ClaimEvent:
    """One answer to "Was ist passiert?" in the customer's words (Schaden melden), mapped by the
    product to the cover that pays: a Kfz event to Haftpflicht, Teilkasko or Vollkasko (AKB A.1,
    A.2.2, A.2.3), a Rechtsschutz event to its Leistungsart and Baustein (ARB 2.2) — whose Wartezeit
    applies; module None: the booked Bausteine's, NO_WAITING: none."""

    key: str
    label: str
    kind: str
    benefit: str
    module: str | None = None


def parse_claim_events(raw: Any, modules: tuple[str, ...] = ()) -> tuple[ClaimEvent, ...]:
    """[claim_events.<key>] label, kind (one of CLAIM_KINDS), benefit (the Leistungsart's name) and,
    for Rechtsschutz, optionally module (a Baustein of `modules` or "keine"); in the file's order."""
    if not isinstance(raw, Mapping) or not raw:
        raise TermsError("the tariff needs [claim_events.*]: what a customer can report in Schaden melden")
    events = []
    for key, entry in raw.items():
        try:
            label, kind, benefit = str(entry["label"]), str(entry["kind"]), str(entry["benefit"])
        except (KeyError, TypeError):
            raise TermsError(f"[claim_events.{key}] needs label, kind and benefit") from None
        if kind not in CLAIM_KINDS:
            raise TermsError(f"[claim_events.{key}] kind must be one of {', '.join(CLAIM_KINDS)}, not {kind!r}")
        module = entry.get("module")
        if module is not None and module != NO_WAITING and module not in modules:
            raise TermsError(f"[claim_events.{key}] module {module!r} is not a Baustein of the tariff")
        events.append(ClaimEvent(str(key), label, kind, benefit, module))
    return tuple(events)


# Anlage zu § 4 Abs. 2 PflVG: the legal minimum of a Kfz-Haftpflicht per claim for personal injury
PFLVG_MIN_PERSONAL = Decimal("7500000")


def euro_text(amount: Decimal) -> str:
    """100000000 → '100.000.000 €' (whole euros, German grouping)."""
    return f"{int(amount):,} €".replace(",", ".")


@dataclass(frozen=True)
class CoverSums:
    """Kfz-Haftpflicht Deckungssummen (AKB A.1.3): a flat sum per claim for personal, property and
    financial loss, with a cap per injured person."""

    flat: Decimal
    per_person: Decimal

    @property
    def text(self) -> str:
        return (
            f"pauschal {euro_text(self.flat)} für Personen-, Sach- und Vermögensschäden, "
            f"bei Personenschäden höchstens {euro_text(self.per_person)} je geschädigter Person"
        )


def parse_cover_sums(raw: Any) -> CoverSums:
    """[cover_sums] pauschal = "…", je_person = "…"; at least the PflVG minimum for personal injury."""
    try:
        sums = CoverSums(Decimal(str(raw["pauschal"])), Decimal(str(raw["je_person"])))
    except (KeyError, TypeError, ArithmeticError):
        raise TermsError("the Kfz tariff needs [cover_sums] pauschal and je_person (AKB A.1.3)") from None
    if min(sums.flat, sums.per_person) < PFLVG_MIN_PERSONAL or sums.per_person > sums.flat:
        raise TermsError(
            f"[cover_sums] below the PflVG minimum ({euro_text(PFLVG_MIN_PERSONAL)} for personal injury) "
            "or a cap per person above the flat sum"
        )
    return sums
