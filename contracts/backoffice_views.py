"""The back office's contract work: Risikoprüfung (accept, decline, Rückfrage), Hauptfälligkeit
(Probelauf, run, report), Schadenmeldungen, SF-Bestätigung and the eVB list."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from calculator.forms.vehicle import SF_CHOICES
from contracts import (
    claim_status,
    claims,
    contact,
    einstufung,
    evb,
    probelauf,
    queries,
    questions,
    renewal,
    versions,
)
from contracts.forms import (
    CLAIM_ALL,
    CLAIM_OPEN,
    BuybackForm,
    ClaimFilterForm,
    ClaimStatusForm,
    EvbRevokeForm,
    QuestionForm,
    RenewalForm,
)
from contracts.models import (
    Application,
    Claim,
    ClaimStatus,
    Contract,
    RenewalRun,
)
from contracts.services import (
    ApplicationError,
    accept_selected,
    decline,
)
from contracts.settings import current as current_settings
from contracts.views import PAGE_SIZE, application_page
from core import clock, db, paging
from core.authz import BACKOFFICE_AREA, get_visible_or_404, roles_required, staff_user
from core.downloads import download
from core.formatting import count, date_de
from core.forms import selected_ids, show_error

bp = Blueprint("contracts_backoffice", __name__)


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
    return redirect(url_for("contracts_backoffice.evbs", suche=search))


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
    return redirect(url_for("contracts_backoffice.referrals"))


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
        return redirect(url_for("contracts_backoffice.referrals"))
    s.commit()
    flash(
        f"{count(len(policed), 'Antrag', 'Anträge')} angenommen und policiert: "
        + ", ".join(c.number or "" for c in policed),
        "success",
    )
    return redirect(url_for("contracts_backoffice.referrals"))


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
            return application_page(s, application, decline_error=str(error), typed_reason=reason), 422
        return _referrals_with_error(s, public_id, "grund", str(error), reason)
    s.commit()
    flash("Antrag abgelehnt.", "success")
    return redirect(url_for("contracts_backoffice.referrals"))


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
                preview = probelauf.start_preview(s, form.due, actor=staff_user(), today=today)
                due_count = count(preview.total, "Vertrag", "Verträge")
                message = f"Probelauf zum {date_de(preview.due)} gestartet: {due_count} fällig."
        except renewal.RenewalError as error:
            s.rollback()
            form.faellig_am.errors = [str(error)]
        else:
            s.commit()
            flash(message, "success")
            return redirect(url_for("contracts_backoffice.renewals"))
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


@bp.get("/innendienst/kontakt")
@roles_required(*BACKOFFICE_AREA)
def contact_list() -> str:
    """The customers' messages not answered yet (all agencies), oldest first; answered on the page."""
    found = contact.open_messages(db.session(), staff_user(), paging.page_number(request.args.get("seite")), PAGE_SIZE)
    return render_template(
        "contracts/contact_list.html",
        messages=found.items,
        page=found.number,
        total=found.total,
        page_size=PAGE_SIZE,
        subjects=contact.SUBJECTS,
    )


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
                show_error(form, error)
            else:
                s.commit()
                flash(_claim_flash(found.number or "", found.status.label, outcome.restated), "success")
                return redirect(url_for("contracts_backoffice.claim_page", public_id=found.public_id))
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
            show_error(buyback, error)
        else:
            s.commit()
            flash(_claim_flash(found.number or "", "zurückgekauft", outcome.restated), "success")
            return redirect(url_for("contracts_backoffice.claim_page", public_id=found.public_id))
    form = ClaimStatusForm(data={"datum": date_de(clock.today())})
    form.status.choices = [(st.value, st.label) for st in claim_status.next_statuses(found)]
    return render_template("contracts/claim.html", **_claim_page(s, found, form, buyback)), 422


def _claim_flash(number: str, state: str, restated: Any) -> str:
    text = f"Schaden {number}: {state}. Der Kunde erhält eine Schadenmitteilung."
    if restated is not None:
        text += f" Nachstufung: Nachtrag Nr. {restated.endorsement_no} zum Vertrag."
    return text


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
    except versions.ChangeError as error:
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
    return redirect(url_for("contracts_backoffice.sf_confirmations"))


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
    return redirect(url_for("contracts_backoffice.claims_list"))


def _claim_page(s: so.Session, claim: Claim, form: ClaimStatusForm, buyback: BuybackForm) -> dict[str, Any]:
    terms = versions.contract_terms(current_settings().catalog, claim.contract)
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
