"""Antrag, applications, contracts and documents (scoped per role), and the Risikoprüfung queue."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from calculator import presentation
from calculator.forms.fields import parse_german_date
from calculator.forms.vehicle import SF_CHOICES
from calculator.models import CustomerRecord, Offer
from calculator.tariffs import Product
from contracts import (
    advice,
    changes,
    claim_status,
    claims,
    contract_info,
    einstufung,
    evb,
    lifecycle,
    offer_mail,
    queries,
    questions,
    renewal,
)
from contracts import customer_records as client_search
from contracts.documents import mask_iban
from contracts.forms import (
    CLAIM_ALL,
    CLAIM_OPEN,
    MANDATE_TEXT,
    PORTAL_HINT,
    AnswerForm,
    ApplicationForm,
    BuybackForm,
    CancelForm,
    ChangeForm,
    ClaimFilterForm,
    ClaimStatusForm,
    EvbRevokeForm,
    QuestionForm,
    RenewalForm,
    WithdrawForm,
    normalize_plate,
)
from contracts.models import (
    Application,
    Claim,
    ClaimFile,
    ClaimStatus,
    Contract,
    Delivery,
    Document,
    Occasion,
    RenewalRun,
)
from contracts.presentation import code_letters, policy_scope, state_label
from contracts.services import (
    ApplicationData,
    ApplicationError,
    accept_selected,
    advice_context,
    decline,
    read_document,
    reprice_check,
    submit_application,
)
from contracts.settings import current as current_settings
from core import clock, db, paging, storage
from core.authz import BACKOFFICE_AREA, BROKER_AREA, can_see, get_visible_or_404, roles_required, staff_user
from core.downloads import download
from core.extensions import htmx
from core.formatting import count, date_de, eur
from core.forms import selected_ids
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
        form.validate()
        form.check_conditions()
        form.irrelevant_errors_cleared()
        try:
            reprice_check(offer, current_settings().catalog)
        except ApplicationError as error:
            form.form_errors.append(str(error))
        if not any(f.errors for f in form) and not form.form_errors:
            try:
                application = _submit(s, offer, form)
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


def _submit(s: so.Session, offer: Offer, form: ApplicationForm) -> Application:
    portal = form.zustellung.data == "portal"
    kfz = offer.product == Product.KFZ.value
    return submit_application(
        s,
        staff_user(),
        offer,
        ApplicationData(
            start_date=form.start_date,
            account_holder=form.kontoinhaber.data,
            iban=form.iban_compact,
            bic=form.bic,
            delivery=Delivery(form.zustellung.data),
            email=form.email_normalized if portal else None,
            mobile=form.mobile_e164 if portal else None,
            contract_info_given_on=parse_german_date(form.vertragsinformationen_am.data or ""),
            notice_19_confirmed=bool(form.belehrung_19.data),
            occasion=Occasion(form.anlass.data) if kfz and form.anlass.data else None,
            vin=form.fin.data if kfz else None,
            plate=normalize_plate(form.kennzeichen.data or "") if kfz else None,
            advice=form.advice(),
        ),
        current_settings(),
    )


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
    return _application_page(s, get_visible_or_404(s, Application, staff_user(), public_id=public_id))


def _application_page(s: so.Session, app_: Application, **extra: Any) -> str:
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
        history=changes.history(s, found),
        stand_text=stand_text,
        stand_error=bool(stand_text) and stand is None,
        at=changes.version_at(s, found, stand) if stand else None,
        stand=stand,
        masked_iban=mask_iban,
        today=clock.today(),
        claims=claims.claims_of(s, found),
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
        terms = changes.contract_terms(current_settings().catalog, found)
        issued = evb.issue_and_send(
            s,
            found,
            staff_user(),
            valid_days=current_settings().rules.evb_valid_days,
            margin_days=terms.evb_margin_days,
        )
    except evb.EvbError as error:
        s.rollback()
        flash(str(error), "error")
    else:
        s.commit()
        flash(f"eVB-Nummer {issued.code} vergeben (gültig bis {date_de(issued.valid_until)}).", "success")
    return redirect(url_for("contracts.contract", public_id=found.public_id))


@bp.get("/innendienst/evb")
@roles_required(*BACKOFFICE_AREA)
def evbs() -> str:
    """The back office's eVB list: search, status, revoke."""
    search = request.args.get("suche", "").strip()[:100]
    found = evb.evbs_page(db.session(), search, paging.page_number(request.args.get("seite")), PAGE_SIZE)
    return render_template("contracts/evbs.html", page=found, search=search, today=clock.today())


@bp.post("/innendienst/evb/<public_id>/widerrufen")
@roles_required(*BACKOFFICE_AREA)
def revoke_evb(public_id: str) -> BaseResponse | tuple[str, int]:
    s = db.session()
    form = EvbRevokeForm()
    search = (form.suche.data or "")[:100]
    try:
        if not form.validate():
            raise evb.EvbError(" ".join(form.grund.errors or ["Bitte prüfen Sie Ihre Eingaben."]))
        revoked = evb.revoke(s, staff_user(), public_id, form.grund.data or "")
    except evb.EvbError as error:
        s.rollback()
        found = evb.evbs_page(s, search, paging.page_number(form.seite.data), PAGE_SIZE)
        html = render_template(
            "contracts/evbs.html",
            page=found,
            search=search,
            today=clock.today(),
            error={"id": public_id, "message": str(error), "reason": form.grund.data or ""},
        )
        return html, 422
    s.commit()
    flash(f"eVB-Nummer {revoked.code} widerrufen.", "success")
    return redirect(url_for("contracts.evbs", suche=search))


@bp.route("/vertraege/<public_id>/aenderung", methods=["GET", "POST"])
@roles_required(*BROKER_AREA, *BACKOFFICE_AREA)
def change_contract(public_id: str) -> BaseResponse | str | tuple[str, int]:
    """Vertrag ändern: address, bank account, Zahlweise, for Kfz vehicle, mileage and drivers."""
    s = db.session()
    found = get_visible_or_404(s, Contract, staff_user(), public_id=public_id)
    if request.method == "GET":
        form = ChangeForm(formdata=None, data=_change_defaults(found))
        return render_template("contracts/change.html", form=form, contract=found)
    form = ChangeForm()
    kfz = found.product == "kfz" and found.risk is not None
    valid = form.check(kfz=kfz, iban_required=found.iban is not None)
    if valid and request.form.get("aktion") == "pruefen":  # "Änderung prüfen": shown, not saved
        try:
            preview = changes.preview_change(
                s,
                found,
                _change_of(form, kfz=kfz),
                catalog=current_settings().catalog,
                rules=current_settings().rules,
                today=clock.today(),
            )
        except changes.ChangeError as error:
            _field_error(form, error)
        else:
            s.rollback()  # nothing of the preview is kept
            return render_template("contracts/change.html", form=form, contract=found, preview=preview)
        s.rollback()
    elif valid:
        try:
            version = changes.change_contract(
                s,
                staff_user(),
                found,
                _change_of(form, kfz=kfz),
                expected_version=_int(form.version.data),
                catalog=current_settings().catalog,
                rules=current_settings().rules,
                today=clock.today(),
                pdf_workers=current_settings().pdf_workers,
            )
        except changes.ChangeError as error:
            s.rollback()
            _field_error(form, error)
        else:
            s.commit()
            delta = f" Beitragsdifferenz: {eur(version.premium_delta)}." if version.premium_delta else ""
            flash(
                f"Nachtrag Nr. {version.endorsement_no} erstellt "
                f"(wirksam ab {date_de(version.effective_date)}).{delta}",
                "success",
            )
            return redirect(url_for("contracts.contract", public_id=found.public_id))
    return render_template("contracts/change.html", form=form, contract=found), 422


def _change_defaults(contract: Contract) -> dict[str, Any]:
    answers = contract.answers or {}

    def answer(name: str) -> str:
        return (answers.get(name) or [""])[0]

    return {
        "wirksam_ab": date_de(max(clock.today(), contract.start_date)),  # a contract not begun yet: from its start
        "strasse": contract.customer.get("street", ""),
        "plz": contract.customer.get("plz", ""),
        "ort": contract.customer.get("city", ""),
        "kontoinhaber": contract.account_holder or contract.customer_name,
        "iban": contract.iban or "",
        "zahlweise": contract.frequency,
        "hsn": answer("hsn"),
        "tsn": answer("tsn"),
        "fahrleistung": _int(answer("fahrleistung")),
        "fahrerkreis": answer("fahrerkreis"),
        "juengster_fahrer": _int(answer("juengster_fahrer")),
        "version": str(contract.version),
    }


def _change_of(form: ChangeForm, kfz: bool) -> changes.ContractChange:
    return changes.ContractChange(
        effective=form.effective,
        street=form.strasse.data or "",
        plz=form.plz.data or "",
        city=form.ort.data or "",
        account_holder=form.kontoinhaber.data or "",
        iban=form.iban_compact,
        bic=form.bic,
        mandate_accepted=bool(form.sepa_mandat.data),
        frequency=form.zahlweise.data or "",
        hsn=form.hsn.data if kfz else None,
        tsn=form.tsn.data if kfz else None,
        annual_mileage=form.fahrleistung.data if kfz else None,
        driver_circle=form.fahrerkreis.data if kfz else None,
        youngest_driver_age=form.juengster_fahrer.data if kfz else None,
    )


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _field_error(form: Any, error: changes.ChangeError | claim_status.ClaimStatusError) -> None:
    if error.field and error.field in form:
        form[error.field].errors = [*form[error.field].errors, error.message]
    else:
        form.form_errors.append(error.message)


@bp.route("/vertraege/<public_id>/kuendigen", methods=["GET", "POST"])
@roles_required(*BROKER_AREA, *BACKOFFICE_AREA)
def cancel(public_id: str) -> BaseResponse | str | tuple[str, int]:
    """Kündigung zum Ablauf (counted from the day it arrived), or the end by sale or de-registration."""
    s = db.session()
    found = get_visible_or_404(s, Contract, staff_user(), public_id=public_id)
    today = clock.today()
    form = CancelForm(
        formdata=request.form if request.method == "POST" else None,
        data={"version": str(found.version), "eingegangen_am": date_de(today)},
    )
    terms = changes.contract_terms(current_settings().catalog, found)
    after_claim = changes.claim_window(s, found, terms, today) if found.main_due else None
    increase = changes.increase_window(s, found, today) if found.main_due else None
    withdrawal_open = (
        staff_user().role is Role.BACKOFFICE
        and found.application is not None
        and today <= changes.withdrawal_deadline(found, terms)
    )
    form.grund.choices = [
        (k, v)
        for k, v in changes.CANCEL_REASONS.items()
        if (k != changes.SALE or found.product == "kfz")
        and (k != changes.AFTER_CLAIM or after_claim)
        and (k != changes.WITHDRAWAL or withdrawal_open)
        and (k != changes.AFTER_INCREASE or increase)
    ]
    received = form.received or today
    ends = changes.cancellation_date(found.main_due, received, terms.notice_months) if found.main_due else None
    page = {
        "form": form,
        "contract": found,
        "ends": ends,
        "received": received,
        "terms": terms,
        "after_claim": after_claim,
        "withdrawal_until": changes.withdrawal_deadline(found, terms) if withdrawal_open else None,
        "increase": increase,
    }
    if request.method == "GET":
        return render_template("contracts/cancel.html", **page)
    form.validate()
    sale = form.grund.data == changes.SALE
    date_errors = form.verkauft_am.errors if sale else form.eingegangen_am.errors + form.endet_am.errors
    if not (form.grund.errors or date_errors):
        if not sale and form.received is None:
            form.eingegangen_am.errors = ["Bitte geben Sie an, wann die Kündigung eingegangen ist."]
        else:
            try:
                version = changes.cancel_contract(
                    s,
                    staff_user(),
                    found,
                    changes.Cancellation(form.grund.data or "", form.bemerkung.data or "", received, form.early_end),
                    expected_version=_int(form.version.data),
                    catalog=current_settings().catalog,
                    rules=current_settings().rules,
                    today=today,
                    pdf_workers=current_settings().pdf_workers,
                )
            except changes.ChangeError as error:
                s.rollback()
                _field_error(form, error)
            else:
                s.commit()
                refund = f" Erstattung: {eur(-version.premium_delta)}." if version.premium_delta else ""
                what = "Widerruf" if form.grund.data == changes.WITHDRAWAL else "Kündigung"
                flash(
                    f"{what} erfasst: Der Vertrag endet zum {date_de(found.ends_on)} "
                    f"(Nachtrag Nr. {version.endorsement_no}).{refund} "
                    f"Die {what}sbestätigung geht per Post an den Kunden.",
                    "success",
                )
                return redirect(url_for("contracts.contract", public_id=found.public_id))
    return render_template("contracts/cancel.html", **page), 422


@bp.post("/vertraege/<public_id>/kuendigung-zuruecknehmen")
@roles_required(*BROKER_AREA, *BACKOFFICE_AREA)
def withdraw_cancellation(public_id: str) -> BaseResponse:
    """Rücknahme of a Kündigung before it takes effect (a Nachtrag; audited)."""
    s = db.session()
    found = get_visible_or_404(s, Contract, staff_user(), public_id=public_id)
    form = WithdrawForm(formdata=request.form)
    try:
        version = changes.withdraw_cancellation(
            s,
            staff_user(),
            found,
            expected_version=_int(form.version.data),
            today=clock.today(),
            catalog=current_settings().catalog,
            pdf_workers=current_settings().pdf_workers,
        )
    except changes.ChangeError as error:
        s.rollback()
        flash(error.message, "error")
    else:
        s.commit()
        flash(f"Kündigung zurückgenommen: Der Vertrag läuft weiter (Nachtrag Nr. {version.endorsement_no}).", "success")
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


@bp.get("/innendienst/risikopruefung")
@roles_required(*BACKOFFICE_AREA)
def referrals() -> str:
    """The Risikoprüfung: each application with Sparte, Beitrag and the reason, decided per row
    (accept, decline with a reason, or a Rückfrage an Vermittler); several accepted at once."""
    return render_template("contracts/referrals.html", rows=queries.referred(db.session()), row_error=None)


def _referrals_with_error(s: so.Session, public_id: str, field: str, message: str, typed: str) -> tuple[str, int]:
    """The queue again, the message at the row's field and what was typed kept."""
    rows = queries.referred(s)
    return render_template(
        "contracts/referrals.html",
        rows=rows,
        row_error={"id": public_id, "field": field, "message": message, "typed": typed},
    ), 422


@bp.post("/innendienst/risikopruefung/<public_id>/rueckfrage")
@roles_required(*BACKOFFICE_AREA)
def ask_broker(public_id: str) -> BaseResponse | tuple[str, int]:
    """Rückfrage an Vermittler: the application waits, the broker is told and answers on it."""
    s = db.session()
    application = get_visible_or_404(s, Application, staff_user(), public_id=public_id)
    form = QuestionForm(request.form)
    if not form.validate():
        return _referrals_with_error(s, public_id, "frage", form.frage.errors[0], form.frage.data or "")
    try:
        questions.ask(s, staff_user(), application, form.frage.data or "")
    except questions.QuestionError as error:
        s.rollback()
        return _referrals_with_error(s, public_id, "frage", str(error), form.frage.data or "")
    s.commit()
    flash(f"Rückfrage an {application.owner.full_name} gesendet; der Antrag wartet auf die Antwort.", "success")
    return redirect(url_for("contracts.referrals"))


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
    return _application_page(s, application, answer_form=form), 422


@bp.post("/innendienst/risikopruefung/annehmen")
@roles_required(*BACKOFFICE_AREA)
def accept_referrals() -> BaseResponse:
    """Accept the selected applications: they are policed together (documents on all cores)."""
    s = db.session()
    try:
        policed = accept_selected(s, selected_ids(request.form, "antrag"), staff_user(), current_settings())
    except ApplicationError as error:
        s.rollback()
        flash(str(error), "error")
        return redirect(url_for("contracts.referrals"))
    s.commit()
    flash(
        f"{count(len(policed), 'Antrag', 'Anträge')} angenommen und policiert: "
        + ", ".join(c.number or "" for c in policed),
        "success",
    )
    return redirect(url_for("contracts.referrals"))


@bp.post("/innendienst/risikopruefung/<public_id>/ablehnen")
@roles_required(*BACKOFFICE_AREA)
def decline_referral(public_id: str) -> BaseResponse | tuple[str, int]:
    s = db.session()
    application = get_visible_or_404(s, Application, staff_user(), public_id=public_id)
    reason = request.form.get("grund", "")
    try:
        decline(s, application, staff_user(), reason)
    except ApplicationError as error:
        s.rollback()
        if request.form.get("von") == "antrag":  # declined on the application's own page
            return _application_page(s, application, decline_error=str(error), typed_reason=reason), 422
        return _referrals_with_error(s, public_id, "grund", str(error), reason)
    s.commit()
    flash("Antrag abgelehnt.", "success")
    return redirect(url_for("contracts.referrals"))


@bp.route("/innendienst/hauptfaelligkeit", methods=["GET", "POST"])
@roles_required(*BACKOFFICE_AREA)
def renewals() -> BaseResponse | str | tuple[str, int]:
    """The yearly renewal: start it for a Hauptfälligkeit, follow its progress, fetch its report."""
    s = db.session()
    today = clock.today()
    posted = request.method == "POST"
    form = RenewalForm(
        formdata=request.form if posted else None, data={"faellig_am": date_de(date(today.year + 1, 1, 1))}
    )
    if posted and form.validate():
        try:
            if request.form.get("aktion") == "start":
                run = renewal.start(s, form.due, actor=staff_user(), today=today, preview_required=True)
                message = (
                    f"Verlängerung zum {date_de(run.due)} gestartet: {count(run.total, 'Vertrag', 'Verträge')} fällig."
                )
            else:
                preview = renewal.start_preview(s, form.due, actor=staff_user(), today=today)
                due_count = count(preview.total, "Vertrag", "Verträge")
                message = f"Probelauf zum {date_de(preview.due)} gestartet: {due_count} fällig."
        except renewal.RenewalError as error:
            s.rollback()
            form.faellig_am.errors = [str(error)]
        else:
            s.commit()
            flash(message, "success")
            return redirect(url_for("contracts.renewals"))
    html = render_template(
        "contracts/renewals.html", form=form, runs=renewal.recent(s), preview=renewal.latest_preview(s)
    )
    return (html, 422) if posted else html


@bp.get("/innendienst/hauptfaelligkeit/fortschritt")
@roles_required(*BACKOFFICE_AREA)
def renewal_progress() -> str:
    return render_template("contracts/_renewal_runs.html", runs=renewal.recent(db.session()))


@bp.get("/innendienst/hauptfaelligkeit/probelauf")
@roles_required(*BACKOFFICE_AREA)
def renewal_preview() -> str:
    return render_template("contracts/_renewal_preview.html", preview=renewal.latest_preview(db.session()))


@bp.get("/innendienst/hauptfaelligkeit/<public_id>/bericht.csv")
@roles_required(*BACKOFFICE_AREA)
def renewal_report(public_id: str) -> Response:
    s = db.session()
    run = s.scalar(sa.select(RenewalRun).where(RenewalRun.public_id == public_id))
    if run is None:
        abort(404)
    return download(renewal.report_csv(s, run).encode(), "text/csv", f"Verlaengerung-{run.due.isoformat()}.csv")


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
    return download(storage.load(found.storage_key), found.content_type, found.filename, inline=inline)


@bp.get("/innendienst/schadenmeldungen")
@roles_required(*BACKOFFICE_AREA)
def claims_list() -> str:
    """Schadenmeldungen from the portal, newest first; open ones by default, filtered by status and
    age (issue #26 item 23)."""
    filters = ClaimFilterForm.from_args(request.args)
    days = filters.older_than_days
    found = claims.claims_page(
        db.session(),
        open_only=filters.status.data == CLAIM_OPEN,
        status=None if filters.status.data in (CLAIM_OPEN, CLAIM_ALL) else ClaimStatus(filters.status.data),
        reported_before=clock.now() - timedelta(days=days) if days else None,
        page=paging.page_number(request.args.get("seite")),
        size=PAGE_SIZE,
    )
    catalog = current_settings().catalog
    return render_template(
        "contracts/claims.html",
        waiting={c.id: claims.waiting_until(c, catalog) for c in found.items},
        rows=found.items,
        page=found.number,
        total=found.total,
        page_size=PAGE_SIZE,
        filters=filters,
        open_only=filters.status.data == CLAIM_OPEN,
    )


@bp.route("/innendienst/schadenmeldungen/<public_id>", methods=["GET", "POST"])
@roles_required(*BACKOFFICE_AREA)
def claim_page(public_id: str) -> BaseResponse | str | tuple[str, int]:
    """One claim: what was reported, its uploads and documents, and the decision on it (status,
    amount paid, date); a Nachstufung when a paid claim corrects a renewal already run."""
    s = db.session()
    found = get_visible_or_404(s, Claim, staff_user(), public_id=public_id)
    form = ClaimStatusForm(
        formdata=request.form if request.method == "POST" else None, data={"datum": date_de(clock.today())}
    )
    form.status.choices = [(st.value, st.label) for st in claim_status.next_statuses(found)]
    buyback = BuybackForm(data={"datum": date_de(clock.today())})
    if request.method == "POST":
        if form.validate():
            try:
                outcome = claim_status.set_status(
                    s,
                    staff_user(),
                    found,
                    claim_status.StatusChange(
                        ClaimStatus(form.status.data), form.day or clock.today(), form.amount, form.bemerkung.data or ""
                    ),
                    catalog=current_settings().catalog,
                    today=clock.today(),
                    pdf_workers=current_settings().pdf_workers,
                )
            except claim_status.ClaimStatusError as error:
                s.rollback()
                _field_error(form, error)
            else:
                s.commit()
                flash(_claim_flash(found.number or "", found.status.label, outcome.restated), "success")
                return redirect(url_for("contracts.claim_page", public_id=found.public_id))
        return render_template("contracts/claim.html", **_claim_page(s, found, form, buyback)), 422
    return render_template("contracts/claim.html", **_claim_page(s, found, form, buyback))


@bp.post("/innendienst/schadenmeldungen/<public_id>/rueckkauf")
@roles_required(*BACKOFFICE_AREA)
def claim_buyback(public_id: str) -> BaseResponse | tuple[str, int]:
    """Schadenrückkauf: the customer repaid the amount; the claim no longer counts (Nachstufung)."""
    s = db.session()
    found = get_visible_or_404(s, Claim, staff_user(), public_id=public_id)
    buyback = BuybackForm(formdata=request.form)
    if buyback.validate():
        try:
            outcome = claim_status.buy_back(
                s,
                staff_user(),
                found,
                buyback.day or clock.today(),
                catalog=current_settings().catalog,
                today=clock.today(),
                pdf_workers=current_settings().pdf_workers,
            )
        except claim_status.ClaimStatusError as error:
            s.rollback()
            _field_error(buyback, error)
        else:
            s.commit()
            flash(_claim_flash(found.number or "", "zurückgekauft", outcome.restated), "success")
            return redirect(url_for("contracts.claim_page", public_id=found.public_id))
    form = ClaimStatusForm(data={"datum": date_de(clock.today())})
    form.status.choices = [(st.value, st.label) for st in claim_status.next_statuses(found)]
    return render_template("contracts/claim.html", **_claim_page(s, found, form, buyback)), 422


def _contract_information(offer: Offer) -> list[tuple[bytes, str]]:
    """The offer's Vertragsinformationen (§ 7 VVG) as attachments: (PDF, file name)."""
    catalog = current_settings().catalog
    return [
        (pdf, contract_info.filename(d, offer.tariff_version))
        for d, pdf in contract_info.pdfs(catalog, offer.tariff_version, current_settings().insurer)
    ]


def _claim_flash(number: str, state: str, restated: Any) -> str:
    text = f"Schaden {number}: {state}. Der Kunde erhält eine Schadenmitteilung."
    if restated is not None:
        text += f" Nachstufung: Nachtrag Nr. {restated.endorsement_no} zum Vertrag."
    return text


def _claim_page(s: so.Session, claim: Claim, form: ClaimStatusForm, buyback: BuybackForm) -> dict[str, Any]:
    terms = changes.contract_terms(current_settings().catalog, claim.contract)
    return {
        "claim": claim,
        "form": form,
        "buyback": buyback,
        "buyback_until": claim_status.buyback_deadline(claim, terms),
        "waiting_until": claims.waiting_until(claim, current_settings().catalog),
        "documents": queries.claim_documents(s, claim),
        "history": queries.claim_history(s, claim),
        "photos": [f for f in claim.files if f.content_type in claims.VIEWABLE_IMAGES],
        "today": clock.today(),
    }


@bp.get("/innendienst/sf-bestaetigung")
@roles_required(*BACKOFFICE_AREA)
def sf_confirmations() -> str:
    """SF-Klassen taken over from prior insurers, waiting for the Vorversicherer's confirmation."""
    s = db.session()
    found = einstufung.pending_page(s, paging.page_number(request.args.get("seite")), PAGE_SIZE)
    return render_template(
        "contracts/sf_confirmations.html", page=found, sf_choices=SF_CHOICES[1:], error=None, today=clock.today()
    )


@bp.post("/innendienst/sf-bestaetigung/<public_id>")
@roles_required(*BACKOFFICE_AREA)
def confirm_sf(public_id: str) -> BaseResponse | tuple[str, int]:
    """The Vorversicherer's statement: confirmed as given, or corrected (a Nachtrag with the difference)."""
    s = db.session()
    found = get_visible_or_404(s, Contract, staff_user(), public_id=public_id)
    kh, vk = request.form.get("sf_kh", ""), request.form.get("sf_vk") or None
    try:
        version = einstufung.confirm(
            s,
            staff_user(),
            found,
            kh,
            vk,
            catalog=current_settings().catalog,
            today=clock.today(),
            pdf_workers=current_settings().pdf_workers,
        )
    except changes.ChangeError as error:
        s.rollback()
        page = einstufung.pending_page(s, 1, PAGE_SIZE)
        failed = {"id": public_id, "message": error.message}
        html = render_template(
            "contracts/sf_confirmations.html", page=page, sf_choices=SF_CHOICES[1:], error=failed, today=clock.today()
        )
        return html, 422
    s.commit()
    if version is None:
        flash(f"SF-Klassen zum Vertrag {found.number} bestätigt.", "success")
    else:
        flash(f"SF-Klassen zum Vertrag {found.number} berichtigt: Nachtrag Nr. {version.endorsement_no}.", "success")
    return redirect(url_for("contracts.sf_confirmations"))


@bp.post("/innendienst/schadenmeldungen/bearbeitet")
@roles_required(*BACKOFFICE_AREA)
def claims_handled() -> BaseResponse:
    s = db.session()
    done = claims.mark_handled(s, staff_user(), selected_ids(request.form, "schaden"))
    s.commit()
    if done:
        flash(f"{done} Schadenmeldung(en) in Bearbeitung genommen.", "success")
    else:
        flash("Bitte wählen Sie mindestens eine offene Schadenmeldung aus.", "error")
    return redirect(url_for("contracts.claims_list"))
