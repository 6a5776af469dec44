"""Calculator pages: choose a product, fill in the quote (live premium via htmx), offers, offer PDF."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from jinja2_fragments.flask import render_blocks
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

from calculator import customers, presentation, quotes, reference, variants
from calculator import live as live_premium
from calculator.forms import SECTIONS
from calculator.forms.risk import RISK_PROFESSION_QUESTION, RISK_PROFESSIONS
from calculator.models import CustomerRecord, Offer
from calculator.quotes import OfferError, Quote
from calculator.tariffs import Product, TariffCatalog
from core import clock, db, paging
from core.authz import BROKER_AREA, get_visible_or_404, roles_required, scoped, staff_user
from core.downloads import download
from core.extensions import htmx
from core.pdf import render_pdf

bp = Blueprint("calculator", __name__)

PAGE_SIZE = 20


def _catalog() -> TariffCatalog:
    catalog: TariffCatalog = current_app.extensions["tariffs"]
    return catalog


def _product(value: str) -> Product:
    try:
        return Product(value)
    except ValueError:
        abort(404)


def _context(quote: Quote, offer: Offer | None = None) -> dict[str, Any]:
    tariff = _catalog().current(quote.product, clock.today())
    return {
        "client": _visible_client(request.values.get("_kunde") or request.args.get("kunde", "")),
        "quote": quote,
        "form": quote.form,
        "product": quote.product,
        "offer": offer,
        "tariff": tariff,
        "membership_required": getattr(tariff, "membership_required", False),
        "risk_question": RISK_PROFESSION_QUESTION,
        "risk_professions": RISK_PROFESSIONS,
        "sections": SECTIONS[quote.product],
    }


@bp.get("/rechner/")
@roles_required(*BROKER_AREA)
def start() -> str:
    return render_template("calculator/start.html")


@bp.get("/rechner/<product>/")
@roles_required(*BROKER_AREA)
def new_quote(product: str) -> str:
    """A new quote; ?kunde=<id>: "Neues Angebot für diesen Kunden", the applicant prefilled."""
    chosen = _product(product)
    client = _visible_client(request.args.get("kunde", ""))
    data = customers.applicant_data(client) if client else None
    if client is not None and data:  # priced as far as it goes, e.g. the Rechtsschutz after the Tätigkeit
        quote = quotes.evaluate(db.session(), _catalog(), chosen, MultiDict(data), today=clock.today())
        for field in quote.form:
            field.errors = []
    else:
        quote = Quote(quotes.new_form(chosen, None, today=clock.today()), chosen)
        quote.form.ort.choices = []
    return render_template("calculator/quote.html", **_context(quote))


def _visible_client(public_id: str) -> CustomerRecord | None:
    if not public_id:
        return None
    return db.session().scalar(
        scoped(sa.select(CustomerRecord).where(CustomerRecord.public_id == public_id), CustomerRecord, staff_user())
    )


@bp.post("/rechner/<product>/berechnen")
@roles_required(*BROKER_AREA)
def calculate(product: str) -> BaseResponse | tuple[str, int]:
    """The plain form post (works without JavaScript): all errors, or the offer page."""
    chosen = _product(product)
    s = db.session()
    editing = None
    if request.form.get("_offer"):
        editing = get_visible_or_404(s, Offer, staff_user(), public_id=request.form["_offer"])
    if request.form.get("_annahmen"):  # "Annahmen übernehmen": the assumed answers into the form, to check
        filled = quotes.with_assumptions(chosen, request.form, clock.today())
        quote = quotes.evaluate(s, _catalog(), chosen, filled, today=clock.today())
        return render_template("calculator/quote.html", **_context(quote, editing)), 200
    quote = quotes.evaluate(s, _catalog(), chosen, request.form, today=clock.today())
    for id_, _label, shown in quote.assumptions:  # an offer is never made of assumptions nobody saw
        quote.form[id_].errors = [
            f"Angenommen: {shown}. Bitte prüfen; mit „Berechnen“ übernehmen Sie den Wert (oder ändern ihn)."
        ]
    if not quote.complete:
        return render_template("calculator/quote.html", **_context(quote, editing)), 422
    client = _visible_client(request.form.get("_kunde", ""))
    offer = quotes.save_offer(s, staff_user(), quote, request.form, editing, client)
    s.commit()
    return redirect(url_for("calculator.offer", public_id=offer.public_id))


@bp.post("/rechner/<product>/live")
@roles_required(*BROKER_AREA)
def live(product: str) -> Response:
    """htmx: the premium panel, plus out-of-band updates of the messages and conditional blocks the
    changed answer touches (calculator.live)."""
    chosen = _product(product)
    changed = request.form.get("_changed", "")
    update = live_premium.update(db.session(), _catalog(), chosen, request.form, changed, today=clock.today())
    names = ["premium", "oob_error_slots", *(f"block_{b.replace('-', '_')}" for b in update.blocks)]
    context = _context(update.quote)
    return make_response(
        render_blocks("calculator/quote.html", names, oob=True, error_fields=update.error_fields, **context)
    )


@bp.get("/fahrzeuge/suche")
@roles_required(*BROKER_AREA)
def vehicle_search() -> str:
    """Typeahead by make and model (htmx fragment; a full page without JavaScript)."""
    query = request.args.get("q", "")
    vehicles = reference.search_vehicles(db.session(), query) if len(query.strip()) >= 2 else []
    template = "calculator/_vehicle_suggestions.html" if htmx else "calculator/vehicle_search.html"
    return render_template(template, vehicles=vehicles, query=query)


@bp.get("/angebote/")
@roles_required(*BROKER_AREA)
def offers() -> str:
    status = request.args.get("status", "gespeichert")
    search = request.args.get("q", "").strip()
    found = quotes.list_offers(
        db.session(),
        staff_user(),
        status=status,
        search=search,
        page=paging.page_number(request.args.get("seite")),
        size=PAGE_SIZE,
    )
    return render_template(
        "calculator/offers.html",
        offers=found.items,
        total=found.total,
        page=found.number,
        page_size=PAGE_SIZE,
        status=status,
        search=search,
    )


def _load_offer(public_id: str) -> Offer:
    return get_visible_or_404(db.session(), Offer, staff_user(), public_id=public_id)


def _offer_view(offer: Offer) -> dict[str, Any]:
    details = presentation.offer_details(db.session(), _catalog(), offer, clock.today())
    if offer.client_id is None:  # an ambiguous match waits for the broker
        details["client_candidates"] = customers.candidates(
            db.session(), staff_user(), customers.Person.of_offer(offer)
        )
    return details


@bp.get("/angebote/<public_id>")
@roles_required(*BROKER_AREA)
def offer(public_id: str) -> str:
    return render_template("calculator/offer.html", **_offer_view(_load_offer(public_id)))


def _city(offer: Offer) -> str:
    """The Ort the offer settled on (its answer is the place's id)."""
    ort = (offer.form_data.get("ort") or [""])[0]
    place = db.session().get(reference.PostalPlace, int(ort)) if ort.isdigit() else None
    return place.place if place else ""


@bp.post("/angebote/<public_id>/kunde")
@roles_required(*BROKER_AREA)
def confirm_client(public_id: str) -> BaseResponse | tuple[str, int]:
    """The broker's answer when the customer match was ambiguous: this customer, or a new one."""
    s = db.session()
    offer = _load_offer(public_id)
    chosen = request.form.get("kunde", "")
    try:
        person = customers.Person.of_offer(offer, city=_city(offer))
        client = customers.confirm(s, staff_user(), offer, person, None if chosen == "neu" else chosen)
    except ValueError as error:
        s.rollback()
        return render_template("calculator/offer.html", client_error=str(error), **_offer_view(offer)), 422
    s.commit()
    flash(f"Das Angebot gehört jetzt zum Kunden {client.full_name}.", "success")
    return redirect(url_for("calculator.offer", public_id=offer.public_id))


@bp.get("/angebote/<public_id>/bearbeiten")
@roles_required(*BROKER_AREA)
def edit_offer(public_id: str) -> str:
    """'Daten ändern': the quote form with everything as it was typed."""
    offer = _load_offer(public_id)
    product = Product(offer.product)
    quote = quotes.evaluate(db.session(), _catalog(), product, quotes.offer_formdata(offer), today=clock.today())
    return render_template("calculator/quote.html", **_context(quote, offer))


@bp.post("/angebote/<public_id>/speichern")
@roles_required(*BROKER_AREA)
def save_offer(public_id: str) -> BaseResponse | tuple[str, int]:
    """'Speichern unter': save the offer under a name."""
    offer = _load_offer(public_id)
    s = db.session()
    try:
        saved = quotes.name_offer(s, staff_user(), offer, request.form.get("name", ""))
    except OfferError as error:
        view = _offer_view(offer)
        return render_template(
            "calculator/offer.html", name_error=str(error), name_value=request.form.get("name", ""), **view
        ), 422
    s.commit()
    if saved is not offer:
        flash(f"Kopie „{saved.name}“ gespeichert; das Angebot „{offer.name}“ bleibt unverändert.", "success")
    else:
        flash(f"Angebot „{saved.name}“ gespeichert.", "success")
    return redirect(url_for("calculator.offer", public_id=saved.public_id))


@bp.get("/angebote/<public_id>/pdf")
@roles_required(*BROKER_AREA)
def offer_pdf(public_id: str) -> Response:
    """'PDF erstellen': the offer as PDF from our template."""
    offer = _load_offer(public_id)
    html = render_template("documents/offer.html", created=clock.now(), **_offer_view(offer))
    return download(render_pdf(html), "application/pdf", f"Angebot-{offer.public_id[:8]}.pdf")


# --- variants side by side, copy -----------------------------------------------------------------------


def _comparison(offer: Offer, args: MultiDict[str, str]) -> dict[str, Any]:
    asked = variants.requested(args, offer)
    columns, rows = variants.compare(db.session(), _catalog(), offer, asked, clock.today())
    product = Product(offer.product)
    base = columns[0].quote.form
    choices = {
        name: [(str(v), str(label)) for v, label, *_ in base[name].iter_choices()]
        for name in variants.FIELDS[product]
        if name != "rabattschutz"
    }
    return {
        "offer": offer,
        "product": product,
        "columns": columns,
        "rows": rows,
        "fields": variants.FIELDS[product],
        "labels": {name: base[name].label.text for name in variants.FIELDS[product]},
        "choices": choices,
        "slots": range(1, variants.MAX_VARIANTS + 1),
        "query": request.query_string.decode(),
        "created": clock.now(),
    }


@bp.get("/angebote/<public_id>/varianten")
@roles_required(*BROKER_AREA)
def offer_variants(public_id: str) -> str:
    """Up to three variants of the offer in one table, differences marked."""
    return render_template("calculator/variants.html", **_comparison(_load_offer(public_id), request.args))


@bp.get("/angebote/<public_id>/varianten.pdf")
@roles_required(*BROKER_AREA)
def offer_variants_pdf(public_id: str) -> Response:
    """The comparison as one offer PDF."""
    offer = _load_offer(public_id)
    html = render_template("documents/offer_variants.html", **_comparison(offer, request.args))
    return download(render_pdf(html), "application/pdf", f"Angebotsvergleich-{offer.public_id[:8]}.pdf")


@bp.post("/angebote/<public_id>/varianten/beantragen")
@roles_required(*BROKER_AREA)
def apply_variant(public_id: str) -> BaseResponse | tuple[str, int]:
    """The customer's choice goes on: the variant becomes an offer of its own, then its Antrag."""
    offer = _load_offer(public_id)
    slot = request.form.get("variante", "")
    index = int(slot) if slot in {str(i) for i in range(1, variants.MAX_VARIANTS + 1)} else 0
    changes = variants.changes_from(request.form, Product(offer.product), index) if index else {}
    s = db.session()
    try:
        chosen = variants.choose(s, staff_user(), _catalog(), offer, changes, clock.today())
    except variants.VariantError as error:
        context = _comparison(offer, request.form)
        context["error"] = str(error)
        return render_template("calculator/variants.html", **context), 422
    s.commit()
    return redirect(url_for("contracts.apply", public_id=chosen.public_id))


@bp.post("/angebote/<public_id>/kopieren")
@roles_required(*BROKER_AREA)
def copy_offer(public_id: str) -> BaseResponse:
    """'Angebot kopieren': a new draft with the same answers, opened for changes."""
    s = db.session()
    copy = quotes.copy_offer(s, staff_user(), _load_offer(public_id))
    s.commit()
    flash("Kopie angelegt: ändern Sie, was für den Kunden anders sein soll.", "success")
    return redirect(url_for("calculator.edit_offer", public_id=copy.public_id))
