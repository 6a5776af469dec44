"""German number, money and date formatting for templates (Babel)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from babel.support import NullTranslations
from flask import Flask
from markupsafe import Markup, escape

from core import clock
from core.contact import display_phone

LOCALE = "de_DE"
TIMEZONE = clock.TIMEZONE  # re-exported: templates' dates and older imports


_GERMAN_SEPARATORS = str.maketrans({",": ".", ".": ","})


def eur(amount: Decimal | int | float | None) -> str:
    """1234.5 -> '1.234,50 €' (Babel's de_DE currency format). A Decimal or int is formatted by
    Python's own format — the same rounding (the decimal context's, half-even) and the same text as
    Babel at a seventh of its cost (a premium box shows seven amounts; tests/unit/test_formatting.py
    compares both); anything else goes to Babel."""
    if amount is None:
        return ""
    if type(amount) is int or (type(amount) is Decimal and amount.is_finite()):
        return format(Decimal(amount), ",.2f").translate(_GERMAN_SEPARATORS) + "\xa0€"
    return format_currency(amount, "EUR", locale=LOCALE)


def number(value: Decimal | int | float | None) -> str:
    return "" if value is None else format_decimal(value, locale=LOCALE)


def date_de(value: date | datetime | None) -> str:
    """TT.MM.JJJJ"""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_datetime(value, "dd.MM.yyyy", tzinfo=TIMEZONE, locale=LOCALE)
    return format_date(value, "dd.MM.yyyy", locale=LOCALE)


def datetime_de(value: datetime | None) -> str:
    """TT.MM.JJJJ HH:MM in German local time"""
    if value is None:
        return ""
    return format_datetime(value, "dd.MM.yyyy HH:mm", tzinfo=TIMEZONE, locale=LOCALE)


def decimal(value: str | int | Decimal) -> Decimal:
    """A stored amount (JSON string) as Decimal for `eur`."""
    return Decimal(str(value))


FREQUENCY_LABELS = {
    "jaehrlich": "jährlich",
    "halbjaehrlich": "halbjährlich",
    "vierteljaehrlich": "vierteljährlich",
    "monatlich": "monatlich",
}


def frequency_label(value: str) -> str:
    return FREQUENCY_LABELS.get(value, value)


# a number with hyphens our documents print (Vertragsnummer VR-2026-0000005-5, Schadennummer
# SN-2026-0000001, Tarifstand KFZ-2026-01): a line never ends at one of its hyphens (issue #26 item 1)
_IDENTIFIER = re.compile(r"\b[A-Z]{2,4}(?:-\d+){2,}\b")


def numbers_together(text: str | None) -> Markup:
    """The text (escaped) with each such number kept on one line."""
    text = text or ""
    parts: list[Markup] = []
    last = 0
    for match in _IDENTIFIER.finditer(text):
        parts += [escape(text[last : match.start()]), Markup('<span class="nowrap">{}</span>').format(match.group(0))]
        last = match.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


# the salutation as the address line puts it (DIN 5008: "Herrn Jürgen Müller", the accusative)
_ADDRESSEE = {"herr": "Herrn", "frau": "Frau"}
_DEAR = {"herr": "Sehr geehrter Herr", "frau": "Sehr geehrte Frau"}


def addressee(salutation: str | None, name: str) -> str:
    """'Herr', 'Jürgen Müller' -> 'Herrn Jürgen Müller' (the address window, "Brief an …")."""
    return " ".join(f"{_ADDRESSEE.get((salutation or '').strip().lower(), '')} {name}".split())


def dear(salutation: str | None, first_name: str, last_name: str) -> str:
    """The letter's opening: 'Sehr geehrter Herr Müller', 'Sehr geehrte Frau Schröder', and with no
    salutation given 'Guten Tag Änne Schröder' (no guessed gender)."""
    opening = _DEAR.get((salutation or "").strip().lower())
    if opening:
        return f"{opening} {last_name.strip()}"
    return " ".join(f"Guten Tag {first_name} {last_name}".split())


_PLURALS = NullTranslations()  # gettext's plural rule, which is German's: one, else many


def count(n: int, singular: str, plural: str) -> str:
    """ "1 Vertrag", "2 Verträge", "1.234 Verträge" (issue #26 item 19: no "1 Verträge", no "Antrag/Anträge")."""
    return f"{format_decimal(n, locale='de_DE')} {_PLURALS.ngettext(singular, plural, n)}"


def init_app(app: Flask) -> None:
    app.add_template_global(count)
    app.add_template_global(addressee)
    app.add_template_global(dear)
    app.add_template_filter(numbers_together)
    app.add_template_filter(display_phone, "phone")
    app.add_template_filter(decimal)
    app.add_template_filter(frequency_label)
    app.add_template_filter(eur)
    app.add_template_filter(number)
    app.add_template_filter(date_de)
    app.add_template_filter(datetime_de)
