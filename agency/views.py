"""Bestand, Vertragsdaten ändern, and the bulk switch (selection or CSV) with preview and progress."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from agency import bulk as bulk_switch
from agency import jobs, services
from agency.bulk import Limits
from agency.export import funnel_csv, table_csv
from agency.figures import overview
from agency.forms import PortalSwitchForm
from agency.models import SwitchJob
from agency.period import parse_period
from agency.settings import current as agency_settings
from contracts.models import Contract
from core import db, paging
from core.authz import BACKOFFICE_AREA, BROKER_AREA, MANAGER_AREA, get_visible_or_404, roles_required, staff_user
from core.downloads import download
from core.errors import render_error
from core.forms import selected_ids
from core.security import safe_next
from messaging.outbox import MessageError
from onboarding.settings import current as onboarding_settings

bp = Blueprint("agency", __name__)
PAGE_SIZE = 25
JOB_PAGE_ROWS = 500  # a job's rows shown on its page; all are in the report


@bp.get("/bestand/")
@roles_required(*BROKER_AREA)
def stock() -> str:
    """Contracts with delivery channel and onboarding state; a broker sees his own, a manager all of
    his agency's."""
    s = db.session()
    f = {k: request.args.get(k, "").strip() for k in services.STOCK_FILTERS}
    found = services.stock_page(
        s, staff_user(), f, paging.page_number(request.args.get("seite")), PAGE_SIZE, agency_settings().dashboard
    )
    rows, total, page = list(found.items), found.total, found.number
    states = services.onboarding_states(s, rows)
    return render_template(
        "agency/stock.html",
        rows=rows,
        states=states,
        total=total,
        page=page,
        page_size=PAGE_SIZE,
        filters={k: v for k, v in f.items() if v},
        funnel=services.funnel_filter_label(s, staff_user(), f, agency_settings().dashboard),
        state_names=services.STATES,
    )


@bp.post("/bestand/erinnerung")
@roles_required(*BROKER_AREA)
def remind_selection() -> BaseResponse:
    """ "Erinnerung senden" for the contracts selected in the Bestand: a fresh access link each
    (those already active or not on the portal are named, not changed); back to the same list."""
    s = db.session()
    result = services.remind_selected(s, staff_user(), selected_ids(request.form, "vertrag"), onboarding_settings())
    s.commit()
    for category, message in result.messages():
        flash(message, category)
    return redirect(safe_next(request.form.get("zurueck"), url_for("agency.stock")))


def _figures(template: str) -> tuple[str, int]:
    settings = agency_settings().dashboard
    args = {k: request.args.get(k, "") for k in ("von", "bis")}
    period, errors = parse_period(args["von"], args["bis"], settings)
    view = overview(
        db.session(),
        staff_user(),
        period,
        settings,
        period_ok=not errors,
        sort=request.args.get("sortierung", "name"),
        descending=request.args.get("richtung") == "ab",
    )
    html = render_template(template, view=view, typed=args, errors=errors)
    return html, 422 if errors else 200


@bp.get("/agentur/kennzahlen")
@roles_required(*MANAGER_AREA)
def figures() -> tuple[str, int]:
    """The agency manager's dashboard: digital share, onboarding funnel, per broker."""
    return _figures("agency/figures.html")


@bp.get("/innendienst/kennzahlen")
@roles_required(*BACKOFFICE_AREA)
def figures_all() -> tuple[str, int]:
    """The back office's: the same across all agencies, per agency, and the outbox's health."""
    return _figures("agency/figures.html")


@bp.get("/agentur/kennzahlen/<table>.csv")
@roles_required(*MANAGER_AREA)
def figures_csv(table: str) -> Response | tuple[str, int]:
    """Export of the funnel ("trichter") or of the per-broker table ("tabelle") of the period."""
    return _figures_csv(table)


@bp.get("/innendienst/kennzahlen/<table>.csv")
@roles_required(*BACKOFFICE_AREA)
def figures_all_csv(table: str) -> Response | tuple[str, int]:
    return _figures_csv(table)


def _figures_csv(table: str) -> Response | tuple[str, int]:
    if table not in ("trichter", "tabelle"):
        abort(404)
    settings = agency_settings().dashboard
    period, errors = parse_period(request.args.get("von", ""), request.args.get("bis", ""), settings)
    if errors:  # the German message of the page's period fields, on the error page
        return render_error(422, " ".join(errors.values()))
    view = overview(db.session(), staff_user(), period, settings)
    text = funnel_csv(view) if table == "trichter" else table_csv(view)
    name = "Onboarding-Trichter" if table == "trichter" else ("Agenturen" if view.per_agency else "Vermittler")
    return download(text.encode(), "text/csv", f"{name}-{period.start.isoformat()}-{period.end.isoformat()}.csv")


@bp.route("/vertraege/<public_id>/zustellweg", methods=["GET", "POST"])
@roles_required(*BROKER_AREA)
def change_delivery(public_id: str) -> BaseResponse | str | tuple[str, int]:
    """Vertragsdaten ändern: switch to the customer portal (e-mail + mobile) or back to post."""
    s = db.session()
    contract = get_visible_or_404(s, Contract, staff_user(), public_id=public_id)
    errors: dict[str, str] = {}
    values = {"email": contract.customer_email or "", "mobile": contract.customer_mobile or ""}
    if request.method == "POST":
        action = request.form.get("aktion", "portal")
        try:
            if action == "post":
                services.switch_to_post(s, staff_user(), contract)
                message = "Der Vertrag ist auf Postversand umgestellt."
            elif action == "einladung":
                services.resend_invitation(s, staff_user(), contract, onboarding_settings())
                message = "Die Einladung wurde erneut versendet (neuer Link, neuer Zugangs-Code per Post)."
            else:
                form = PortalSwitchForm()
                form.validate()
                values = {"email": form.email.data or "", "mobile": form.mobile.data or ""}
                errors = form.field_errors()
                if errors:
                    raise services.SwitchError("")
                message = services.switch_to_portal(
                    s, staff_user(), contract, values["email"], values["mobile"], onboarding_settings()
                )
        except (services.SwitchError, MessageError) as error:
            s.rollback()  # every service error reaches the user in German, next to the form
            if str(error):
                errors["form"] = str(error)
        else:
            s.commit()
            flash(message, "success")
            return redirect(url_for("contracts.contract", public_id=contract.public_id))
    state = services.onboarding_states(s, [contract])[contract.id]
    html = render_template("agency/change.html", contract=contract, errors=errors, values=values, state=state)
    return (html, 422) if errors else html


@bp.post("/arbeitsliste/erinnerung/<public_id>")
@roles_required(*BROKER_AREA)
def remind(public_id: str) -> BaseResponse:
    """ "Erinnerung senden" from the worklist: a fresh access link (the old one ends; an existing
    customer's code comes by letter again), back to the start page."""
    s = db.session()
    contract = get_visible_or_404(s, Contract, staff_user(), public_id=public_id)
    try:
        services.resend_invitation(s, staff_user(), contract, onboarding_settings())
    except services.SwitchError as error:
        s.rollback()
        flash(str(error), "error")
    else:
        s.commit()
        flash(f"Erinnerung an {contract.customer_name} versendet (neuer Zugangslink).", "success")
    return redirect(url_for("staff.index"))


def _limits() -> Limits:
    limits = agency_settings().bulk
    return limits


@bp.route("/agentur/umstellung", methods=["GET", "POST"])
@roles_required(*MANAGER_AREA)
def bulk() -> BaseResponse | str | tuple[str, int]:
    """Upload a CSV (Vertragsnummer;E-Mail;Mobilnummer): every row is checked, nothing changes yet."""
    s = db.session()
    error = None
    if request.method == "POST":
        upload = request.files.get("datei")
        if upload is None or not upload.filename:
            error = "Bitte wählen Sie eine CSV-Datei aus."
        else:
            limits = _limits()
            try:
                job = bulk_switch.upload_job(
                    s, staff_user(), upload.filename, upload.stream.read(limits.max_bytes + 1), limits
                )
            except services.SwitchError as exc:
                error = str(exc)
            else:
                return redirect(url_for("agency.job", public_id=job.public_id))
    html = render_template("agency/bulk.html", error=error, recent=bulk_switch.recent_jobs(s, staff_user()))
    return (html, 422) if error else html


@bp.post("/agentur/umstellung/auswahl")
@roles_required(*MANAGER_AREA)
def bulk_selection() -> BaseResponse:
    """The selected contracts with the e-mail and mobile number on file."""
    job = bulk_switch.selection_job(db.session(), staff_user(), selected_ids(request.form, "vertrag"))
    if job is None:
        flash("Bitte wählen Sie mindestens einen Vertrag aus.", "error")
        return redirect(url_for("agency.stock"))
    return redirect(url_for("agency.job", public_id=job.public_id))


def _job(public_id: str) -> SwitchJob:
    return get_visible_or_404(db.session(), SwitchJob, staff_user(), public_id=public_id)


@bp.get("/agentur/umstellung/<public_id>")
@roles_required(*MANAGER_AREA)
def job(public_id: str) -> str:
    found = _job(public_id)
    session = db.session()
    rows = bulk_switch.rows_of(session, found, limit=JOB_PAGE_ROWS)
    return render_template(
        "agency/job.html", job=found, rows=rows, counts=bulk_switch.counts(session, found), shown=JOB_PAGE_ROWS
    )


@bp.post("/agentur/umstellung/<public_id>/start")
@roles_required(*MANAGER_AREA)
def start(public_id: str) -> BaseResponse:
    if not jobs.start(db.session(), _job(public_id), onboarding_settings(), _limits()):
        flash("Diese Umstellung wurde bereits gestartet.", "error")
    return redirect(url_for("agency.job", public_id=public_id))


@bp.get("/agentur/umstellung/<public_id>/status")
@roles_required(*MANAGER_AREA)
def status(public_id: str) -> str:
    """htmx polls this while a job runs."""
    found = _job(public_id)
    return render_template("agency/_progress.html", job=found, counts=bulk_switch.counts(db.session(), found))


@bp.get("/agentur/umstellung/<public_id>/bericht.csv")
@roles_required(*MANAGER_AREA)
def report(public_id: str) -> Response:
    found = _job(public_id)
    return download(
        bulk_switch.report_csv(db.session(), found).encode(), "text/csv", f"Umstellung-{found.public_id[:8]}.csv"
    )
