"""Calculator pages: choose a product, fill in the quote (live premium via htmx), offers, offer PDF."""

from __future__ import annotations

from datetime import date
from typing import Any

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
from flask_login import current_user
from jinja2_fragments.flask import render_blocks
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

from calculator import presentation, quotes, reference
from calculator.forms import SECTIONS
from calculator.forms.risk import RISK_PROFESSION_QUESTION, RISK_PROFESSIONS
from calculator.models import Offer
from calculator.quotes import OfferError, Quote
from calculator.tariffs import Product, TariffCatalog
from core import clock, db, paging
from core.authz import BROKER_AREA, get_visible_or_404, roles_required
from core.downloads import download
from core.extensions import htmx
from core.formatting import TIMEZONE
from core.pdf import render_pdf
from core.users import User

bp = Blueprint("calculator", __name__)

# which conditional blocks of the form depend on which answer (re-rendered by the live endpoint)
DEPENDENT_BLOCKS = {
    "deckung": ("partner", "partner-risk"),
    "vorversicherung": ("prior",),
    "kfz_deckung": ("kfz-cover",),
    "plz": ("ort",),
    "hsn": ("vehicle",),
    "tsn": ("vehicle",),
}
BLOCK_FIELDS = {
    "partner": ("partner_vorname", "partner_name", "partner_geburtsdatum"),
    "partner-risk": ("risikoberuf_partner",),
    "prior": ("vv_versicherer", "vv_vertragsnummer", "vv_gekuendigt_durch", "vv_schaeden"),
    "kfz-cover": ("sf_vk", "sb_tk", "sb_vk", "rabattschutz"),
    "ort": ("ort",),
    "vehicle": (),
}
# blocks a product line's page does not have
PRODUCT_LESS_BLOCKS = {Product.KFZ: ("partner", "partner-risk"), Product.RS: ("kfz-cover", "vehicle")}
PAGE_SIZE = 20


def _today() -> date:
    return clock.now().astimezone(TIMEZONE).date()


def _catalog() -> TariffCatalog:
    catalog: TariffCatalog = current_app.extensions["tariffs"]
    return catalog


def _user() -> User:
    user: User = current_user._get_current_object()
    return user


def _product(value: str) -> Product:
    try:
        return Product(value)
    except ValueError:
        abort(404)


def _context(quote: Quote, offer: Offer | None = None) -> dict[str, Any]:
    tariff = _catalog().current(quote.product, _today())
    return {
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
    chosen = _product(product)
    quote = Quote(quotes.new_form(chosen, None, today=_today()), chosen)
    quote.form.ort.choices = []
    return render_template("calculator/quote.html", **_context(quote))


@bp.post("/rechner/<product>/berechnen")
@roles_required(*BROKER_AREA)
def calculate(product: str) -> BaseResponse | tuple[str, int]:
    """The plain form post (works without JavaScript): all errors, or the offer page."""
    chosen = _product(product)
    s = db.session()
    editing = None
    if request.form.get("_offer"):
        editing = get_visible_or_404(s, Offer, _user(), public_id=request.form["_offer"])
    if request.form.get("_annahmen"):  # "Annahmen übernehmen": the assumed answers into the form, to check
        filled = quotes.with_assumptions(chosen, request.form, _today())
        quote = quotes.evaluate(s, _catalog(), chosen, filled, today=_today())
        return render_template("calculator/quote.html", **_context(quote, editing)), 200
    quote = quotes.evaluate(s, _catalog(), chosen, request.form, today=_today())
    for id_, _label, shown in quote.assumptions:  # an offer is never made of assumptions nobody saw
        quote.form[id_].errors = [
            f"Angenommen: {shown}. Bitte prüfen; mit „Berechnen“ übernehmen Sie den Wert (oder ändern ihn)."
        ]
    if not quote.complete:
        return render_template("calculator/quote.html", **_context(quote, editing)), 422
    offer = quotes.store_offer(s, _user(), quote, request.form, editing)
    s.commit()
    return redirect(url_for("calculator.offer", public_id=offer.public_id))


@bp.post("/rechner/<product>/live")
@roles_required(*BROKER_AREA)
def live(product: str) -> Response:
    """htmx: the premium panel, plus out-of-band updates of field errors and conditional blocks."""
    chosen = _product(product)
    quote = quotes.evaluate(db.session(), _catalog(), chosen, request.form, today=_today())
    changed = request.form.get("_changed", "")
    # "*": a restored draft (static/js/app.js) — every block that depends on an answer
    dependent = sorted(BLOCK_FIELDS) if changed == "*" else DEPENDENT_BLOCKS.get(changed, ())
    blocks = [b for b in dependent if b not in PRODUCT_LESS_BLOCKS[chosen]]
    in_blocks = {name for b in blocks for name in BLOCK_FIELDS[b]}
    # only answers already given (and the one just changed) show their error while typing
    for field in quote.form:
        if field.name != changed and not _has_value(field.name, request.form):
            field.errors = []
    context = _context(quote)
    # error slots exist only for fields on the page: relevant answers outside the re-rendered blocks
    error_fields = [
        f
        for f in quote.form
        if f.name not in in_blocks
        and quote.form.relevant(f.name)
        and (f.name != "mitgliedschaftsbeginn" or context["membership_required"])
    ]
    names = ["premium", "oob_error_slots", *(f"block_{b.replace('-', '_')}" for b in blocks)]
    return make_response(render_blocks("calculator/quote.html", names, oob=True, error_fields=error_fields, **context))


def _has_value(name: str, form: MultiDict[str, str]) -> bool:
    return any(v.strip() for v in form.getlist(name))


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
        _user(),
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
    return get_visible_or_404(db.session(), Offer, _user(), public_id=public_id)


def _offer_view(offer: Offer) -> dict[str, Any]:
    return presentation.offer_details(db.session(), _catalog(), offer, _today())


@bp.get("/angebote/<public_id>")
@roles_required(*BROKER_AREA)
def offer(public_id: str) -> str:
    return render_template("calculator/offer.html", **_offer_view(_load_offer(public_id)))


@bp.get("/angebote/<public_id>/bearbeiten")
@roles_required(*BROKER_AREA)
def edit_offer(public_id: str) -> str:
    """'Daten ändern': the quote form with everything as it was typed."""
    offer = _load_offer(public_id)
    product = Product(offer.product)
    quote = quotes.evaluate(db.session(), _catalog(), product, quotes.offer_formdata(offer), today=_today())
    return render_template("calculator/quote.html", **_context(quote, offer))


@bp.post("/angebote/<public_id>/speichern")
@roles_required(*BROKER_AREA)
def save_offer(public_id: str) -> BaseResponse | tuple[str, int]:
    """'Speichern unter': save the offer under a name."""
    offer = _load_offer(public_id)
    s = db.session()
    try:
        saved = quotes.name_offer(s, _user(), offer, request.form.get("name", ""))
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
