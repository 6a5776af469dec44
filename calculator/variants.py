"""Offer variants side by side: the offer's answers with up to three changes of the cover (Kfz:
Versicherungsumfang, Selbstbeteiligungen, Rabattschutz; Rechtsschutz: Bausteine, Selbstbeteiligung),
each priced by the same quote service; a variant the tariff cannot price says why in its column.
Variants live in the query string (nothing is stored until one goes on to the Antrag)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy.orm as so
from werkzeug.datastructures import MultiDict

from calculator import quotes
from calculator.models import Offer
from calculator.presentation import display
from calculator.quotes import Quote
from calculator.tariffs import KfzCover, Product, RsDeductible, RsModule, TariffCatalog
from core.formatting import eur
from core.users import User

MAX_VARIANTS = 3
FIELDS: dict[Product, tuple[str, ...]] = {
    Product.KFZ: ("kfz_deckung", "sb_tk", "sb_vk", "rabattschutz"),
    Product.RS: ("bausteine", "selbstbeteiligung"),
}
# what the page proposes before the broker changes anything (the examples)
PROPOSALS: dict[Product, list[dict[str, list[str]]]] = {
    Product.KFZ: [
        {"sb_vk": ["300"], "sb_tk": ["150"]},
        {"sb_vk": ["1000"], "sb_tk": ["300"]},
        {"kfz_deckung": [KfzCover.KH_TK.value]},
    ],
    Product.RS: [
        {"selbstbeteiligung": [RsDeductible.NONE.value]},
        {"bausteine": [m.value for m in RsModule]},
        {"selbstbeteiligung": [RsDeductible.EUR250.value]},
    ],
}


def base_data(offer: Offer) -> MultiDict[str, str]:
    return MultiDict([(k, v) for k, values in offer.form_data.items() for v in values])


def with_changes(offer: Offer, changes: dict[str, list[str]]) -> MultiDict[str, str]:
    data = base_data(offer)
    for name, values in changes.items():
        data.setlist(name, values)
    return data


def changes_from(args: MultiDict[str, str], product: Product, index: int) -> dict[str, list[str]]:
    """Variant `index` (1…3) as the comparison form sends it: v1_sb_vk=… (a checkbox not sent: off)."""
    prefix = f"v{index}_"
    if f"{prefix}an" not in args:
        return {}
    found = {name: args.getlist(prefix + name) for name in FIELDS[product]}
    if product is Product.KFZ:
        found["rabattschutz"] = ["y"] if args.get(prefix + "rabattschutz") else []
    return found


def requested(args: MultiDict[str, str], offer: Offer) -> list[tuple[int, dict[str, list[str]]]]:
    """The variants asked for, by their slot (1…3); none asked yet: the proposals."""
    product = Product(offer.product)
    if not any(k.endswith("_an") for k in args):
        return [(i, dict(p)) for i, p in enumerate(PROPOSALS[product], start=1)]
    asked = [(i, changes_from(args, product, i)) for i in range(1, MAX_VARIANTS + 1)]
    return [(i, c) for i, c in asked if c]


@dataclass
class Column:
    slot: int  # 0: the offer; 1…3: the variant's place in the form
    title: str
    changes: dict[str, list[str]]
    quote: Quote
    values: dict[str, str]  # the compared answers, as shown
    problem: str | None  # why the tariff cannot price it


@dataclass
class Row:
    label: str
    cells: list[str]
    differs: list[bool]  # against the first column (the offer)


def _shown(quote: Quote, product: Product) -> dict[str, str]:
    form = quote.form
    if product is Product.KFZ:
        if form.kfz_deckung.data not in {c.value for c in KfzCover}:  # a variant sent without a valid cover
            return dict.fromkeys(
                ("Versicherungsumfang", "Selbstbeteiligung Teilkasko", "Selbstbeteiligung Vollkasko", "Rabattschutz"),
                "–",
            )
        cover = KfzCover(form.kfz_deckung.data)
        return {
            "Versicherungsumfang": cover.label,
            "Selbstbeteiligung Teilkasko": display(form.sb_tk) if cover.has_tk else "–",
            "Selbstbeteiligung Vollkasko": display(form.sb_vk) if cover.has_vk else "–",
            "Rabattschutz": "ja" if form.rabattschutz.data and cover.has_vk else "nein",
        }
    return {
        "Bausteine": display(form.bausteine),
        "Selbstbeteiligung": display(form.selbstbeteiligung),
    }


def _problem(quote: Quote, product: Product) -> str | None:
    if quote.premium is not None:
        return None
    messages = [e for name in FIELDS[product] for e in quote.form[name].errors]
    messages += [e for f in quote.form if f.name not in FIELDS[product] for e in f.errors][:1]
    return " ".join(dict.fromkeys(messages)) or "Diese Variante kann der Tarif nicht berechnen."


def compare(
    session: so.Session,
    catalog: TariffCatalog,
    offer: Offer,
    variants: list[tuple[int, dict[str, list[str]]]],
    today: date,
) -> tuple[list[Column], list[Row]]:
    """The offer and its variants priced on today's tariff, and the rows of the comparison."""
    product = Product(offer.product)
    columns = []
    for slot, changes in [(0, {}), *variants[:MAX_VARIANTS]]:
        quote = quotes.evaluate(session, catalog, product, with_changes(offer, changes), today=today)
        title = "Angebot" if slot == 0 else f"Variante {slot}"
        columns.append(Column(slot, title, changes, quote, _shown(quote, product), _problem(quote, product)))
    rows = [Row(label, [c.values[label] for c in columns], []) for label in columns[0].values]
    line_labels: list[str] = list(
        dict.fromkeys(ln.label for c in columns if c.quote.premium for ln in c.quote.premium.lines)
    )
    for label in line_labels:
        cells = []
        for c in columns:
            line = next((ln for ln in c.quote.premium.lines if ln.label == label), None) if c.quote.premium else None
            cells.append(eur(line.amount) if line else "–")
        rows.append(Row(label, cells, []))
    rows.append(
        Row(
            "Gesamtbeitrag",
            [
                f"{c.quote.premium.frequency.label}: {eur(c.quote.premium.total)}" if c.quote.premium else "–"
                for c in columns
            ],
            [],
        )
    )
    for row in rows:
        row.differs = [i > 0 and cell != row.cells[0] for i, cell in enumerate(row.cells)]
    return columns, rows


class VariantError(ValueError):
    """German message: this variant cannot go on to the Antrag."""


def choose(
    session: so.Session, user: User, catalog: TariffCatalog, offer: Offer, changes: dict[str, list[str]], today: date
) -> Offer:
    """The customer's choice goes on (the page's and the API's): the variant priced anew on today's
    tariff and stored as an offer of its own; VariantError if it is no variant or cannot be priced."""
    quote = quotes.evaluate(session, catalog, Product(offer.product), with_changes(offer, changes), today=today)
    if not changes or not quote.complete:
        raise VariantError("Diese Variante kann so nicht beantragt werden.")
    return quotes.store_offer(session, user, quote, with_changes(offer, changes))
