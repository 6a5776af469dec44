"""What an offer looks like to a reader: its answers section by section with their German labels,
the vehicle, the premium from its pinned tariff version. Used by the offer page and PDF, and by the
back office's Antrag page in Risikoprüfung."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from werkzeug.datastructures import MultiDict

from calculator import quotes, reference
from calculator.forms import SECTIONS, QuoteForm
from calculator.forms.fields import choice_labels, options
from calculator.models import CustomerRecord, Offer
from calculator.tariffs import Premium, Product, TariffCatalog
from core.audit import AuditEntry
from core.formatting import TIMEZONE


def display(field: Any) -> str:
    if field.type in ("SelectField", "RadioField"):
        return choice_labels(field).get(str(field.data), field.data or "")
    if field.type == "CheckboxesField":
        labels = choice_labels(field)
        return ", ".join(labels.get(v, v) for v in field.data or [])
    if field.type == "BooleanField":
        return "ja" if field.data else "nein"
    return "" if field.data is None else str(field.data)


# labels that only make sense under their question on the form get a full name in summaries
SUMMARY_LABELS = {
    "risikoberuf": "Risiko-Berufsgruppe (Antragsteller)",
    "risikoberuf_partner": "Risiko-Berufsgruppe (Partner)",
}


def summary(form: QuoteForm, product: Product) -> list[dict[str, Any]]:
    sections = []
    for key, title, names in SECTIONS[product]:
        rows = [
            (SUMMARY_LABELS.get(n, form[n].label.text), display(form[n]))
            for n in names
            if form.relevant(n) and display(form[n])
        ]
        sections.append({"key": key, "title": title, "rows": rows})
    return sections


def answers_form(
    session: so.Session, product: Product, answers: dict[str, list[str]], today: date
) -> tuple[QuoteForm, reference.Vehicle | None]:
    """The quote form filled with stored answers (an offer's or a contract's) and its vehicle."""
    data: MultiDict[str, str] = MultiDict([(k, v) for k, values in answers.items() for v in values])
    form = quotes.new_form(product, data, today=today)
    places = reference.places_for(session, form.plz.data or "") if form.plz.data else []
    form.ort.choices = options((str(p.id), p.place) for p in places)
    vehicle = reference.find_vehicle(session, form.hsn.data, form.tsn.data) if product is Product.KFZ else None
    return form, vehicle


def valid_until(offer: Offer, days: int) -> date:
    """The last day the offer's price holds: its last calculation (Berlin) plus the tariff's days."""
    calculated = offer.updated_at or offer.created_at
    return calculated.astimezone(TIMEZONE).date() + timedelta(days=days)


def offer_details(session: so.Session, catalog: TariffCatalog, offer: Offer, today: date) -> dict[str, Any]:
    """Everything the offer page, the offer PDF and the Antrag page show of an offer."""
    premium: Premium = quotes.reprice(catalog, offer)
    product = Product(offer.product)
    form, vehicle = answers_form(session, product, offer.form_data, today)
    tariff = catalog.get(offer.tariff_version)
    return {
        "offer": offer,
        "client": session.get(CustomerRecord, offer.client_id) if offer.client_id else None,
        "premium": premium,
        "form": form,
        "product": product,
        "vehicle": vehicle,
        "summary": summary(form, product),
        "tariff": tariff,
        # the price holds for the tariff's days from its last calculation (printed for the customer)
        "valid_until": valid_until(offer, tariff.contract_terms.offer_valid_days),
        # "Per E-Mail senden" so far: to whom and when (the audit trail keeps it)
        "sent": list(
            session.execute(
                sa.select(AuditEntry.at, AuditEntry.details)
                .where(
                    AuditEntry.action == "offer_emailed",
                    AuditEntry.object_type == "offer",
                    AuditEntry.object_id == offer.public_id,
                )
                .order_by(AuditEntry.at)
            )
        ),
    }
