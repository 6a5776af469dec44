"""The live premium (htmx, while the broker types): price the answers and show what the changed answer
touches — the premium box, that answer's message and the messages checked against it, and a
conditional block whose trigger changed (issue #28 item 4).

It binds only the answers the price and those messages need (`needed`); the check of every answer
stays with "Berechnen" (`quotes.evaluate` over the whole form). tests/integration/test_live_premium.py
checks on random answer sets that the premium box and every message shown equal the full path's, and
that no message left alone on the page would have changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

import sqlalchemy.orm as so
from werkzeug.datastructures import MultiDict
from wtforms import Field

from calculator import quotes
from calculator.forms import FORMS, PRICING_FIELDS
from calculator.quotes import Quote
from calculator.tariffs import Product, RsTariff, TariffCatalog
from calculator.underwriting import REFERRAL_FIELDS

EVERYTHING = "*"  # `_changed` of a restored draft (static/js/app.js): every block and message anew

# which conditional blocks of the page depend on which answer (re-rendered when it changes)
DEPENDENT_BLOCKS: dict[str, tuple[str, ...]] = {
    "deckung": ("partner", "partner-risk"),
    "vorversicherung": ("prior",),
    "kfz_deckung": ("kfz-cover",),
    "plz": ("ort",),
    "hsn": ("vehicle",),
    "tsn": ("vehicle",),
}
BLOCK_FIELDS: dict[str, tuple[str, ...]] = {
    "partner": ("partner_vorname", "partner_name", "partner_geburtsdatum"),
    "partner-risk": ("risikoberuf_partner",),
    "prior": ("vv_versicherer", "vv_vertragsnummer", "vv_gekuendigt_durch", "vv_schaeden"),
    "kfz-cover": ("sf_vk", "sb_tk", "sb_vk", "rabattschutz"),
    "ort": ("ort",),
    "vehicle": (),
}
# blocks whose fields leave the page with the block (the Vollkasko's answers only hide): such a field
# gets its message slot only with its block, or while it is the one being typed in — a quick answer
# can reach the server before the response that shows its block, and the slot would have no target
LEAVING_BLOCKS = ("partner", "partner-risk", "prior", "ort")
# blocks a product line's page does not have
PRODUCT_LESS_BLOCKS = {Product.KFZ: ("partner", "partner-risk"), Product.RS: ("kfz-cover", "vehicle")}

# answers whose messages are checked against another answer (the forms' check_conditions and the
# quote's reference checks): when the key changes, their messages are shown anew with it
CROSS_CHECKED: dict[str, tuple[str, ...]] = {
    "geburtsdatum": ("juengster_fahrer", "fuehrerschein", "sf_kh", "sf_vk"),
    "fahrerkreis": ("juengster_fahrer",),
    "fuehrerschein": ("sf_kh", "sf_vk"),
    "vorversicherung": ("sf_kh", "sf_vk"),
    "sf_kh": ("fuehrerschein",),
    "sf_vk": ("fuehrerschein",),
    "kfz_deckung": ("fuehrerschein",),
    "hsn": ("tsn",),
    "plz": ("ort",),
    "ort": ("plz",),
}
# what the checks of an answer read besides the answer (it is bound with it)
CHECK_INPUTS: dict[Product, tuple[str, ...]] = {
    Product.KFZ: ("geburtsdatum", "vorversicherung", "ort"),  # driver, licence, SF history; the place
    Product.RS: (),
}
# the answers a tariff's refusal (TariffError) lands on: a change of any price answer may bring or take
# away such a message (calculator.quotes.TARIFF_FIELDS maps the tariff's names to these)
TARIFF_MESSAGE_FIELDS: dict[Product, tuple[str, ...]] = {
    Product.KFZ: ("fahrleistung", "juengster_fahrer", "hsn", "plz", "sf_vk", "sb_tk", "sb_vk", "rabattschutz"),
    Product.RS: ("bausteine",),
}


@dataclass(frozen=True)
class LiveUpdate:
    quote: Quote
    blocks: list[str]  # the conditional blocks to show anew
    error_fields: list[Field]  # the message slots to show anew (outside those blocks)


def _blocks(product: Product, changed: str) -> list[str]:
    dependent = sorted(BLOCK_FIELDS) if changed == EVERYTHING else DEPENDENT_BLOCKS.get(changed, ())
    return [b for b in dependent if b not in PRODUCT_LESS_BLOCKS[product]]


@cache
def _slots(product: Product, changed: str) -> frozenset[str]:
    slots = {changed, *CROSS_CHECKED.get(changed, ())}
    if changed in _price_inputs(product):
        slots.update(TARIFF_MESSAGE_FIELDS[product])
    return frozenset(slots)


def _price_inputs(product: Product) -> set[str]:
    """The answers whether and what the tariff prices depends on: its own answers, what their checks
    read and what is checked against them (the prior insurance can hold back the SF-Klasse and with it
    the tariff's refusal of a Rabattschutz)."""
    pricing = set(PRICING_FIELDS[product])
    return {
        *pricing,
        *CHECK_INPUTS[product],
        *(name for name, checked in CROSS_CHECKED.items() if pricing.intersection(checked)),
    }


def needed(product: Product, changed: str) -> frozenset[str] | None:
    """The answers the live premium binds when `changed` changed; None: the whole form (a restored
    draft, or a name the form does not have)."""
    if changed == EVERYTHING or not hasattr(FORMS[product], changed):
        return None
    return _needed(product, changed)  # cached: a field's name, never anything else the client sent


@cache
def _needed(product: Product, changed: str) -> frozenset[str]:
    names = {*PRICING_FIELDS[product], *CHECK_INPUTS[product], *REFERRAL_FIELDS, *_slots(product, changed)}
    names.update(name for block in _blocks(product, changed) for name in BLOCK_FIELDS[block])
    if "plz" in names or "ort" in names:  # the places of the PLZ are the Ort's choices
        names.update(("plz", "ort"))
    return frozenset(name for name in names if hasattr(FORMS[product], name))


def update(
    session: so.Session,
    catalog: TariffCatalog,
    product: Product,
    formdata: MultiDict[str, str],
    changed: str,
    *,
    today: date,
) -> LiveUpdate:
    """The live premium for the answers after `changed` changed."""
    only = needed(product, changed)
    quote = quotes.evaluate(session, catalog, product, formdata, today=today, only=only)
    form = quote.form
    # only answers already given (and the one just changed) show their message while typing
    for field in form:
        if field.name != changed and not any(v.strip() for v in formdata.getlist(field.name)):
            field.errors = []
    blocks = _blocks(product, changed)
    in_blocks = {name for b in blocks for name in BLOCK_FIELDS[b]}
    leaving = {name for b in LEAVING_BLOCKS for name in BLOCK_FIELDS[b]} - {changed}
    tariff = catalog.current(product, today)
    membership = isinstance(tariff, RsTariff) and tariff.membership_required
    shown = None if only is None else _slots(product, changed)  # a field's name (`needed` checked it)
    error_fields = [
        f
        for f in form
        if (shown is None or f.name in shown)
        and f.name not in in_blocks
        and f.name not in leaving
        and form.relevant(f.name)
        and (f.name != "mitgliedschaftsbeginn" or membership)
    ]
    return LiveUpdate(quote, blocks, error_fields)
