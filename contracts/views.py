"""The broker's side of contracts: Kunden, the Antrag and its applications, the contracts with
their documents and eVB, the answers to the back office's Rückfragen (scoped per role)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from calculator import presentation
from calculator.forms.fields import parse_german_date
from calculator.models import CustomerRecord, Offer
from calculator.tariffs import Product
from contracts import (
    advice,
    claims,
    contact,
    contract_info,
    evb,
    lifecycle,
    offer_mail,
    queries,
    questions,
    versions,
)
from contracts import customer_records as client_search
from contracts import services as contract_services
from contracts.documents import mask_iban
from contracts.forms import (
    MANDATE_TEXT,
    PORTAL_HINT,
    AnswerForm,
    ApplicationForm,
)
from contracts.models import (
    Application,
    ClaimFile,
    Contract,
    Document,
)
from contracts.presentation import code_letters, policy_scope, state_label
from contracts.services import (
    advice_context,
    read_document,
)
from contracts.settings import current as current_settings
from core import clock, db, paging, storage
from core.authz import BACKOFFICE_AREA, BROKER_AREA, can_see, get_visible_or_404, roles_required, staff_user
from core.downloads import download
from core.extensions import htmx
from core.formatting import date_de
from core.pdf import render_pdf
from core.users import Role
from messaging.outbox import MessageError

bp = Blueprint("contracts", __name__)
PAGE_SIZE = 25


@bp.get("/kunden/")
@roles_required(*BROKER_AREA)
def clients() -> str:
    """Kunden: search by name, birth date, Vertragsnummer or e-mail (typeahead; works without JS)."""
    query = request.args.get("q", "")
    found = client_search.search(db.session(), staff_user(), query)
    template = "contracts/_client_results.html" if htmx else "contracts/clients.html"
    return render_template(template, query=query, results=found, searched=len(query.strip()) >= 2)


@bp.get("/kunden/<public_id>")
@roles_required(*BROKER_AREA)
def client(public_id: str) -> str:
    page = client_search.client_page(db.session(), staff_user(), public_id)
    if page is None:
        abort(404)
    letters = code_letters(db.session(), page["contracts"])
    states = {c.id: state_label(c, letter=letters.get(c.id)) for c in page["contracts"]}
    return render_template("contracts/client.html", states=states, today=clock.today(), **page)


@bp.post("/angebote/<public_id>/senden")
@roles_required(*BROKER_AREA)
def send_offer(public_id: str) -> BaseResponse | tuple[str, int]:
    """'Per E-Mail senden': the offer PDF to the customer, on behalf of the broker."""
    s = db.session()
    offer = get_visible_or_404(s, Offer, staff_user(), public_id=public_id)
    details = presentation.offer_details(s, current_settings().catalog, offer, clock.today())
    to, note = request.form.get("email", "").strip(), request.form.get("nachricht", "")
    try:
        pdf = render_pdf(render_template("documents/offer.html", created=clock.now(), **details))
        offer_mail.send_offer(
            s, staff_user(), offer, to, note, pdf, _contract_information(offer), valid_until=details["valid_until"]
        )
    except offer_mail.OfferMailError as error:
        s.rollback()
        mail = {"email": to, "nachricht": note, "errors": {error.field: error.message}}
        return render_template("calculator/offer.html", mail=mail, **details), 422
    s.commit()
    flash(f"Das Angebot ist per E-Mail an {to.lower()} unterwegs (Antworten gehen an Sie).", "success")
    return redirect(url_for("calculator.offer", public_id=offer.public_id))


@bp.route("/angebote/<public_id>/antrag", methods=["GET", "POST"])
@roles_required(*BROKER_AREA)
def apply(public_id: str) -> BaseResponse | str | tuple[str, int]:
    """The Antrag step: Vertragsbeginn, SEPA mandate, delivery choice, "Online beantragen"."""
    s = db.session()
    offer = get_visible_or_404(s, Offer, staff_user(), public_id=public_id)
    existing = queries.application_of(s, offer.id)
    if existing is not None:
        return redirect(url_for("contracts.application", public_id=existing.public_id))
    today = clock.today()
    form = ApplicationForm(formdata=request.form if request.method == "POST" else None, today=today)
    form.product = Product(offer.product)
    if request.method == "GET":  # preset: the next first of a month (the broker may change it)
        form.vertragsbeginn.data = date_de(lifecycle.next_first_of_month(today))
        form.vertragsinformationen_am.data = date_de(today)
        details = presentation.offer_details(s, current_settings().catalog, offer, today)
        form.wuensche.data, form.rat.data = advice.proposal(offer, details)
    if request.method == "POST":
        try:
            application = contract_services.apply_online(s, staff_user(), offer, form, current_settings())
        except contract_services.ApplicationInvalid:
            s.rollback()
        except MessageError as error:
            s.rollback()
            form.form_errors.append(
                f"Die Vertragsunterlagen können so nicht versendet werden: {error} Bitte das Angebot ergänzen."
            )
        else:
            s.commit()
            return redirect(url_for("contracts.application", public_id=application.public_id, neu=1))
    status = 422 if request.method == "POST" else 200
    tariff = current_settings().catalog.get(offer.tariff_version)
    html = render_template(
        "contracts/apply.html",
        form=form,
        offer=offer,
        portal_hint=PORTAL_HINT,
        mandate_text=MANDATE_TEXT,
        contract_documents=[(d.key, d.title) for d in tariff.documents],
        waiver_warning=advice.WAIVER_WARNING,
    )
    return (html, status) if status != 200 else html


@bp.get("/antraege/")
@roles_required(*BROKER_AREA)
def applications() -> str:
    found = queries.applications_page(
        db.session(), staff_user(), paging.page_number(request.args.get("seite")), PAGE_SIZE
    )
    return render_template(
        "contracts/applications.html", rows=found.items, page=found.number, total=found.total, page_size=PAGE_SIZE
    )


@bp.get("/antraege/<public_id>")
@roles_required(*BROKER_AREA, *BACKOFFICE_AREA)
def application(public_id: str) -> str:
    """The Antrag with everything of its offer: applicant, risk answers, vehicle, premium and the
    reasons for the Risikoprüfung; the back office decides on this page."""
    s = db.session()
    return application_page(s, get_visible_or_404(s, Application, staff_user(), public_id=public_id))


def application_page(s: so.Session, app_: Application, **extra: Any) -> str:
    catalog = current_settings().catalog
    details = presentation.offer_details(s, catalog, app_.offer, clock.today())
    return render_template(
        "contracts/application.html",
        application=app_,
        can_decide=staff_user().role is Role.BACKOFFICE,
        today=clock.today(),
        just_submitted=request.args.get("neu") == "1" and app_.owner_id == staff_user().id,
        answer_form=extra.pop("answer_form", None) or AnswerForm(formdata=None),
        **{"decline_error": None, "typed_reason": "", **extra},
        **details,
    )


@bp.get("/vertraege/")
@roles_required(*BROKER_AREA)
def contracts() -> str:
    found = queries.contracts_page(db.session(), staff_user(), paging.page_number(request.args.get("seite")), PAGE_SIZE)
    return render_template(
        "contracts/contracts.html", rows=found.items, page=found.number, total=found.total, page_size=PAGE_SIZE
    )


@bp.get("/vertraege/<public_id>")
@roles_required(*BROKER_AREA, *BACKOFFICE_AREA)
def contract(public_id: str) -> str:
    """The contract, its documents and history; ?stand=TT.MM.JJJJ shows its data on that day."""
    s = db.session()
    found = get_visible_or_404(s, Contract, staff_user(), public_id=public_id)
    stand_text = request.args.get("stand", "").strip()
    stand = parse_german_date(stand_text) if stand_text else None
    return render_template(
        "contracts/contract.html",
        contract=found,
        trail=queries.trail(s, found),
        history=versions.history(s, found),
        stand_text=stand_text,
        stand_error=bool(stand_text) and stand is None,
        at=versions.version_at(s, found, stand) if stand else None,
        stand=stand,
        masked_iban=mask_iban,
        today=clock.today(),
        claims=claims.claims_of(s, found),
        messages=contact.history(s, [found.id]),
        subjects=contact.SUBJECTS,
        client=s.get(CustomerRecord, found.client_id) if found.client_id else None,
        portal_state=state_label(found, letter=code_letters(s, [found]).get(found.id)),
        **policy_scope(s, current_settings().catalog, found, clock.today()),
    )


@bp.post("/vertraege/<public_id>/evb")
@roles_required(*BROKER_AREA, *BACKOFFICE_AREA)
def request_evb(public_id: str) -> BaseResponse:
    """An eVB-Nummer for a Kfz contract that has none (e.g. one taken over without vehicle data)."""
    s = db.session()
    found = get_visible_or_404(s, Contract, staff_user(), public_id=public_id)
    if found.product != "kfz":
        abort(404)
    try:
        issued = contract_services.request_evb(s, found, staff_user(), current_settings())
    except evb.EvbError as error:
        s.rollback()
        flash(str(error), "error")
    else:
        s.commit()
        flash(f"eVB-Nummer {issued.code} vergeben (gültig bis {date_de(issued.valid_until)}).", "success")
    return redirect(url_for("contracts.contract", public_id=found.public_id))


@bp.post("/angebote/<public_id>/beratung.pdf")
@roles_required(*BROKER_AREA, *BACKOFFICE_AREA)
def advice_pdf(public_id: str) -> Response:
    """The Beratungsdokumentation (or the Beratungsverzicht) as typed on the Antrag page, as a PDF to
    hand over before the Antrag (§ 62 VVG: in Textform before the contract is concluded)."""
    s = db.session()
    offer = get_visible_or_404(s, Offer, staff_user(), public_id=public_id)
    form = ApplicationForm(formdata=request.form, today=clock.today())
    context = advice_context(current_settings().catalog, offer, form.advice().to_dict(), None)
    pdf = render_pdf(render_template("documents/beratung.html", created=clock.now(), **context))
    return download(pdf, "application/pdf", f"Beratungsdokumentation-{clock.today():%Y%m%d}.pdf", inline=True)


@bp.get("/vertragsinformationen/<version>/<key>.pdf")
@roles_required(*BROKER_AREA, *BACKOFFICE_AREA)
def contract_information(version: str, key: str) -> Response:
    """A tariff version's Vertragsinformation (AVB, IPID, Verbraucherinformationen) to hand over."""
    catalog = current_settings().catalog
    if version not in catalog.tariffs:
        abort(404)
    found = next(
        (pdf for d, pdf in contract_info.pdfs(catalog, version, current_settings().insurer) if d.key == key), None
    )
    document = next((d for d in catalog.get(version).documents if d.key == key), None)
    if found is None or document is None:
        abort(404)
    return download(found, "application/pdf", contract_info.filename(document, version), inline=True)


@bp.get("/dokumente/<public_id>")
@roles_required(*BROKER_AREA, *BACKOFFICE_AREA)
def document(public_id: str) -> Response:
    s = db.session()
    doc = get_visible_or_404(s, Document, staff_user(), public_id=public_id)
    data = read_document(s, staff_user(), doc)
    s.commit()  # the download is on the audit trail
    return download(data, "application/pdf", doc.filename)


@bp.post("/antraege/<public_id>/antwort")
@roles_required(*BROKER_AREA)
def answer_question(public_id: str) -> BaseResponse | tuple[str, int]:
    """The broker answers the Risikoprüfung's Rückfrage on his application."""
    s = db.session()
    application = get_visible_or_404(s, Application, staff_user(), public_id=public_id)
    form = AnswerForm(request.form)
    if form.validate():
        try:
            questions.answer(s, staff_user(), application, form.antwort.data or "")
        except questions.QuestionError as error:
            s.rollback()
            form.antwort.errors = [str(error)]
        else:
            s.commit()
            flash("Ihre Antwort ist beim Innendienst.", "success")
            return redirect(url_for("contracts.application", public_id=public_id))
    return application_page(s, application, answer_form=form), 422


@bp.post("/kontakt/<public_id>/antwort")
@roles_required(*BROKER_AREA, *BACKOFFICE_AREA)
def answer_contact(public_id: str) -> BaseResponse:
    """The broker's or the back office's answer to a customer's message (from the contract's page)."""
    s = db.session()
    message = contact.visible(s, staff_user(), public_id)
    if message is None:
        abort(404)
    # back where it was written: the back office's list, or the contract's page
    back = (
        url_for("contracts_backoffice.contact_list")
        if request.form.get("von") == "liste"
        else url_for("contracts.contract", public_id=message.contract.public_id, _anchor="kontakt")
    )
    try:
        contact.answer(s, staff_user(), message, request.form.get("antwort", ""))
    except contact.ContactError as error:
        flash(error.message, "error")
        return redirect(back)
    s.commit()
    flash("Ihre Antwort ist im Kunden-Portal; der Kunde erhält eine E-Mail ohne Inhalt.", "success")
    return redirect(back)


@bp.get("/kontakt/<public_id>/anhang")
@roles_required(*BROKER_AREA, *BACKOFFICE_AREA)
def contact_attachment(public_id: str) -> Response:
    """A customer's attachment, for staff who may see its contract."""
    message = contact.visible(db.session(), staff_user(), public_id)
    if message is None or message.attachment_key is None:
        abort(404)
    kind, name = message.attachment_type or "application/octet-stream", message.attachment_name or "Anhang"
    return download(storage.open_stream(message.attachment_key), kind, name)


@bp.get("/schadenmeldungen/dateien/<public_id>")
@roles_required(*BROKER_AREA, *BACKOFFICE_AREA)
def claim_file(public_id: str) -> Response:
    """An upload of a claim, for staff who may see the claim (its type as checked on upload); a photo
    a browser can show opens in it (the claim page's viewer), anything else downloads."""
    s = db.session()
    found = s.scalar(sa.select(ClaimFile).where(ClaimFile.public_id == public_id))
    if found is None or not can_see(staff_user(), found.claim):
        abort(404)
    inline = found.content_type in claims.VIEWABLE_IMAGES
    return download(storage.open_stream(found.storage_key), found.content_type, found.filename, inline=inline)


def _contract_information(offer: Offer) -> list[tuple[bytes, str]]:
    """The offer's Vertragsinformationen (§ 7 VVG) as attachments: (PDF, file name)."""
    catalog = current_settings().catalog
    return [
        (pdf, contract_info.filename(d, offer.tariff_version))
        for d, pdf in contract_info.pdfs(catalog, offer.tariff_version, current_settings().insurer)
    ]
