"""Antrag, applications, contracts and documents (scoped per role), and the Risikoprüfung queue."""

from __future__ import annotations

import sqlalchemy.orm as so
from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from calculator import presentation
from calculator.models import Offer
from contracts import queries
from contracts.forms import MANDATE_TEXT, PORTAL_HINT, ApplicationForm
from contracts.models import Application, Contract, Delivery, Document
from contracts.services import (
    ApplicationData,
    ApplicationError,
    accept_selected,
    decline,
    read_document,
    reprice_check,
    submit_application,
)
from core import clock, db, paging
from core.authz import BACKOFFICE_AREA, BROKER_AREA, get_visible_or_404, roles_required
from core.downloads import download
from core.formatting import TIMEZONE
from core.users import Role, User
from messaging.outbox import MessageError

bp = Blueprint("contracts", __name__)
PAGE_SIZE = 25


def _user() -> User:
    user: User = current_user._get_current_object()
    return user


@bp.route("/angebote/<public_id>/antrag", methods=["GET", "POST"])
@roles_required(*BROKER_AREA)
def apply(public_id: str) -> BaseResponse | str | tuple[str, int]:
    """The Antrag step: Vertragsbeginn, SEPA mandate, delivery choice, "Online beantragen"."""
    s = db.session()
    offer = get_visible_or_404(s, Offer, _user(), public_id=public_id)
    existing = queries.application_of(s, offer.id)
    if existing is not None:
        return redirect(url_for("contracts.application", public_id=existing.public_id))
    today = clock.now().astimezone(TIMEZONE).date()
    form = ApplicationForm(formdata=request.form if request.method == "POST" else None, today=today)
    if request.method == "POST":
        form.validate()
        form.check_conditions()
        form.irrelevant_errors_cleared()
        try:
            reprice_check(offer, current_app.extensions["tariffs"])
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
                return redirect(url_for("contracts.application", public_id=application.public_id))
    status = 422 if request.method == "POST" else 200
    html = render_template(
        "contracts/apply.html", form=form, offer=offer, portal_hint=PORTAL_HINT, mandate_text=MANDATE_TEXT
    )
    return (html, status) if status != 200 else html


def _submit(s: so.Session, offer: Offer, form: ApplicationForm) -> Application:
    portal = form.zustellung.data == "portal"
    return submit_application(
        s,
        _user(),
        offer,
        ApplicationData(
            start_date=form.start_date,
            account_holder=form.kontoinhaber.data,
            iban=form.iban_compact,
            bic=form.bic,
            delivery=Delivery(form.zustellung.data),
            email=form.email_normalized if portal else None,
            mobile=form.mobile_e164 if portal else None,
        ),
    )


@bp.get("/antraege/")
@roles_required(*BROKER_AREA)
def applications() -> str:
    found = queries.applications_page(db.session(), _user(), paging.page_number(request.args.get("seite")), PAGE_SIZE)
    return render_template(
        "contracts/applications.html", rows=found.items, page=found.number, total=found.total, page_size=PAGE_SIZE
    )


@bp.get("/antraege/<public_id>")
@roles_required(*BROKER_AREA, *BACKOFFICE_AREA)
def application(public_id: str) -> str:
    """The Antrag with everything of its offer: applicant, risk answers, vehicle, premium and the
    reasons for the Risikoprüfung; the back office decides on this page."""
    s = db.session()
    app_ = get_visible_or_404(s, Application, _user(), public_id=public_id)
    catalog = current_app.extensions["tariffs"]
    details = presentation.offer_details(s, catalog, app_.offer, clock.now().astimezone(TIMEZONE).date())
    return render_template(
        "contracts/application.html", application=app_, can_decide=_user().role is Role.BACKOFFICE, **details
    )


@bp.get("/vertraege/")
@roles_required(*BROKER_AREA)
def contracts() -> str:
    found = queries.contracts_page(db.session(), _user(), paging.page_number(request.args.get("seite")), PAGE_SIZE)
    return render_template(
        "contracts/contracts.html", rows=found.items, page=found.number, total=found.total, page_size=PAGE_SIZE
    )


@bp.get("/vertraege/<public_id>")
@roles_required(*BROKER_AREA, *BACKOFFICE_AREA)
def contract(public_id: str) -> str:
    s = db.session()
    found = get_visible_or_404(s, Contract, _user(), public_id=public_id)
    return render_template("contracts/contract.html", contract=found, trail=queries.trail(s, found))


@bp.get("/dokumente/<public_id>")
@roles_required(*BROKER_AREA, *BACKOFFICE_AREA)
def document(public_id: str) -> Response:
    s = db.session()
    doc = get_visible_or_404(s, Document, _user(), public_id=public_id)
    return download(read_document(s, _user(), doc), "application/pdf", doc.filename)


@bp.get("/innendienst/risikopruefung")
@roles_required(*BACKOFFICE_AREA)
def referrals() -> str:
    return render_template("contracts/referrals.html", rows=queries.referred(db.session()))


@bp.post("/innendienst/risikopruefung/annehmen")
@roles_required(*BACKOFFICE_AREA)
def accept_referrals() -> BaseResponse:
    """Accept the selected applications: they are policed together (documents on all cores)."""
    s = db.session()
    try:
        policed = accept_selected(s, request.form.getlist("antrag"), _user())
    except ApplicationError as error:
        s.rollback()
        flash(str(error), "error")
        return redirect(url_for("contracts.referrals"))
    s.commit()
    flash(
        f"{len(policed)} Antrag/Anträge angenommen und policiert: " + ", ".join(c.number or "" for c in policed),
        "success",
    )
    return redirect(url_for("contracts.referrals"))


@bp.post("/innendienst/risikopruefung/<public_id>/ablehnen")
@roles_required(*BACKOFFICE_AREA)
def decline_referral(public_id: str) -> BaseResponse | tuple[str, int]:
    s = db.session()
    application = get_visible_or_404(s, Application, _user(), public_id=public_id)
    try:
        decline(s, application, _user(), request.form.get("grund", ""))
    except ApplicationError as error:
        rows = queries.referred(s)
        return render_template("contracts/referrals.html", rows=rows, decline_error=(public_id, str(error))), 422
    s.commit()
    flash("Antrag abgelehnt.", "success")
    return redirect(url_for("contracts.referrals"))
