"""Contact data every package uses: e-mail addresses, German mobile numbers (E.164), postal
addresses for the DIN 5008 window. Checked here once, with German messages."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email

# DIN 5008 Anschriftzone: 6 lines; names wrap at word boundaries to fit the 85 mm window
ADDRESS_MAX_LINES = 6
ADDRESS_MAX_CHARS = 60
ADDRESS_WRAP_CHARS = 40


class ContactError(ValueError):
    """Contact data that cannot be used (bad e-mail address, mobile number or postal address), and —
    re-exported as messaging.outbox.MessageError — any message that cannot be sent as asked."""


class EmailAddress(str):
    """An e-mail address normalize_email has checked (and normalised): code that receives one need
    not check it again (a bulk job checks ten thousand addresses once, in its preview)."""

    __slots__ = ()

    def lower(self) -> EmailAddress:
        return EmailAddress(str.lower(self))  # still a valid address


# the German messages at a contact field, the same in every form (Antrag, switch, CSV, portal)
EMAIL_INVALID = "Bitte geben Sie eine gültige E-Mail-Adresse ein."
EMAIL_UMLAUT = (
    "E-Mail-Adressen enthalten keine Umlaute: bitte schreiben Sie „ae“, „oe“, „ue“ und „ss“ statt „ä“, „ö“, „ü“ "
    "und „ß“."
)
MOBILE_NOT_GERMAN = "Bitte geben Sie eine deutsche Mobilfunknummer ein (z. B. 0151 12345678)."


def normalize_email(address: str) -> EmailAddress:
    """A checked address, lower-cased (how every table stores and compares it); ContactError with a
    German message. Umlauts (and any other non-ASCII letter) are refused, as the portal seed 000
    says: not a valid spelling for an e-mail address."""
    if isinstance(address, EmailAddress):
        return address
    if not address.strip().isascii():
        raise ContactError(EMAIL_UMLAUT)
    try:
        return EmailAddress(validate_email(address.strip(), check_deliverability=False).normalized.lower())
    except EmailNotValidError as exc:
        raise ContactError(EMAIL_INVALID) from exc


def _valid_number(number: str, region: str) -> phonenumbers.PhoneNumber:
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException as exc:
        raise ContactError(f"Keine gültige Telefonnummer: {number!r}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ContactError(f"Keine gültige Telefonnummer: {number!r}")
    return parsed


def normalize_mobile(number: str, region: str = "DE") -> str:
    """A mobile number in E.164 (+4915112345678); ContactError for anything that cannot take an SMS."""
    parsed = _valid_number(number, region)
    if phonenumbers.number_type(parsed) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise ContactError(f"Keine Mobilfunknummer: {number!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def german_mobile(number: str) -> str:
    """A German mobile number in E.164 (+49…) where the form asks for a "deutsche Mobilfunknummer"
    (the Antrag, the switch to the portal, its CSV, the portal's own change); ContactError with
    MOBILE_NOT_GERMAN for anything else, also a valid foreign mobile number."""
    try:
        e164 = normalize_mobile(number)
    except ContactError:
        raise ContactError(MOBILE_NOT_GERMAN) from None
    if not e164.startswith("+49"):
        raise ContactError(MOBILE_NOT_GERMAN)
    return e164


def normalize_phone(number: str, region: str = "DE") -> str:
    """Any valid phone number (landline or mobile) for people to call, formatted internationally
    (+49 89 12345670); ContactError otherwise."""
    return phonenumbers.format_number(_valid_number(number, region), phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def display_phone(number: str | None) -> str:
    """A stored number as people read it: German ones nationally ("0151 12345678"), others
    internationally; what doesn't parse as it is."""
    if not number:
        return ""
    try:
        parsed = phonenumbers.parse(number, "DE")
    except phonenumbers.NumberParseException:
        return number
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if parsed.country_code == 49
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(parsed, style)


@dataclass(frozen=True)
class PostalAddress:
    """A German postal address for the DIN 5008 window."""

    name: str
    street: str
    plz: str
    city: str
    extra: str = ""  # e.g. "c/o …" or a company line

    def lines(self) -> list[str]:
        """The lines of the window: long names (and extra lines) wrap at word boundaries."""
        wrapped = [
            *textwrap.wrap(" ".join(self.name.split()), ADDRESS_WRAP_CHARS),
            *textwrap.wrap(" ".join(self.extra.split()), ADDRESS_WRAP_CHARS),
        ]
        lines = [*wrapped, self.street.strip(), f"{self.plz.strip()} {self.city.strip()}"]
        return [line for line in lines if line]

    def check(self) -> None:
        if not self.name.strip() or not self.street.strip() or not self.city.strip():
            raise ContactError("Für einen Brief fehlen Name, Straße oder Ort der Anschrift.")
        if not re.fullmatch(r"[0-9]{5}", self.plz.strip()):
            raise ContactError(f"Die PLZ der Anschrift ist ungültig: {self.plz!r}")
        lines = self.lines()
        if len(lines) > ADDRESS_MAX_LINES or any(len(line) > ADDRESS_MAX_CHARS for line in lines):
            raise ContactError(
                "Die Anschrift passt nicht in das Anschriftfeld eines Briefs "
                f"(höchstens {ADDRESS_MAX_LINES} Zeilen zu {ADDRESS_MAX_CHARS} Zeichen)."
            )


def mask_mobile(e164: str | None) -> str:
    """+4915112345678 → '+49 151 •••• 678'."""
    if not e164:
        return ""
    parsed = phonenumbers.parse(e164, None)
    national = str(parsed.national_number)
    return f"+{parsed.country_code} {national[:3]} •••• {national[-3:]}"
