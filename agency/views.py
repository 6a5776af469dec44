"""Bestand, Vertragsdaten ändern, and the bulk switch (selection or CSV) with preview and progress."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from agency import jobs, services
from agency.models import JobState, SwitchJob
from contracts.models import Contract
from core import csvsafe, db, paging
from core.authz import BROKER_AREA, MANAGER_AREA, get_visible_or_404, roles_required, scoped
from core.downloads import download
from core.users import User
from messaging.outbox import MessageError
from onboarding.settings import current as current_settings

bp = Blueprint("agency", __name__)
PAGE_SIZE = 25


def _user() -> User:
    user: User = current_user._get_current_object()
    return user


@bp.get("/bestand/")
@roles_required(*BROKER_AREA)
def stock() -> str:
    """Contracts with delivery channel and onboarding state; a broker sees his own, a manager all of
    his agency's."""
    s = db.session()
    f = {k: request.args.get(k, "").strip() for k in ("q", "sparte", "zustellung", "status")}
    found = services.stock_page(s, _user(), f, paging.page_number(request.args.get("seite")), PAGE_SIZE)
    rows, total, page = list(found.items), found.total, found.number
    states = services.onboarding_states(s, rows)
    return render_template(
        "agency/stock.html",
        rows=rows,
        states=states,
        total=total,
        page=page,
        page_size=PAGE_SIZE,
        filters=f,
        state_names=services.STATES,
    )


@bp.route("/vertraege/<public_id>/aendern", methods=["GET", "POST"])
@roles_required(*BROKER_AREA)
def change(public_id: str) -> BaseResponse | str | tuple[str, int]:
    """Vertragsdaten ändern: switch to the customer portal (e-mail + mobile) or back to post."""
    s = db.session()
    contract = get_visible_or_404(s, Contract, _user(), public_id=public_id)
    errors: dict[str, str] = {}
    values = {"email": contract.customer_email or "", "mobile": contract.customer_mobile or ""}
    if request.method == "POST":
        action = request.form.get("aktion", "portal")
        try:
            if action == "post":
                services.switch_to_post(s, _user(), contract)
                message = "Der Vertrag ist auf Postversand umgestellt."
            elif action == "einladung":
                services.resend_invitation(s, _user(), contract, current_settings())
                message = "Die Einladung wurde erneut versendet (neuer Link, neuer Zugangs-Code per Post)."
            else:
                values = {
                    "email": request.form.get("email", "").strip(),
                    "mobile": request.form.get("mobile", "").strip(),
                }
                errors = _contact_errors(values)
                if errors:
                    raise services.SwitchError("")
                message = services.switch_to_portal(
                    s, _user(), contract, values["email"], values["mobile"], current_settings()
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


def _contact_errors(values: dict[str, str]) -> dict[str, str]:
    from core.contact import normalize_email, normalize_mobile

    errors = {}
    try:
        normalize_email(values["email"])
    except MessageError:
        errors["email"] = "Bitte geben Sie eine gültige E-Mail-Adresse ein."
    try:
        normalize_mobile(values["mobile"])
    except MessageError:
        errors["mobile"] = "Bitte geben Sie eine deutsche Mobilfunknummer ein (z. B. 0151 12345678)."
    return errors


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
            try:
                config = current_app.config
                data = upload.stream.read(config["BULK_SWITCH_MAX_BYTES"] + 1)
                parsed = services.read_csv(
                    data, max_bytes=config["BULK_SWITCH_MAX_BYTES"], max_rows=config["BULK_SWITCH_MAX_ROWS"]
                )
            except services.SwitchError as exc:
                error = str(exc)
            else:
                job = _new_job(s, upload.filename, parsed.rows, parsed.note)
                return redirect(url_for("agency.job", public_id=job.public_id))
    recent = s.scalars(
        sa.select(SwitchJob).where(SwitchJob.agency_id == _user().agency_id).order_by(SwitchJob.id.desc()).limit(10)
    ).all()
    html = render_template("agency/bulk.html", error=error, recent=recent)
    return (html, 422) if error else html


@bp.post("/agentur/umstellung/auswahl")
@roles_required(*MANAGER_AREA)
def bulk_selection() -> BaseResponse:
    """The selected contracts with the e-mail and mobile number on file."""
    s = db.session()
    ids = request.form.getlist("vertrag")
    chosen = s.scalars(scoped(sa.select(Contract), Contract, _user()).where(Contract.public_id.in_(ids))).all()
    if not chosen:
        flash("Bitte wählen Sie mindestens einen Vertrag aus.", "error")
        return redirect(url_for("agency.stock"))
    rows = [
        {
            "line": n,
            "number": c.number or "",
            "email": c.customer_email or "",
            "mobile": c.customer_mobile or "",
            "status": "ok",
            "message": "",
            "source": "bestand",
        }
        for n, c in enumerate(chosen, start=1)
    ]
    job = _new_job(s, "Auswahl im Bestand", rows, None)
    return redirect(url_for("agency.job", public_id=job.public_id))


def _new_job(s: so.Session, filename: str, rows: list[dict[str, Any]], note: str | None) -> SwitchJob:
    user = _user()
    checked = services.validate_rows(s, user, rows)
    job = SwitchJob(
        agency_id=user.agency_id,
        created_by_id=user.id,
        filename=filename[:200],
        rows=checked,
        total=len(checked),
        note=note,
    )
    s.add(job)
    s.commit()
    return job


def _job(public_id: str) -> SwitchJob:
    return get_visible_or_404(db.session(), SwitchJob, _user(), public_id=public_id)


@bp.get("/agentur/umstellung/<public_id>")
@roles_required(*MANAGER_AREA)
def job(public_id: str) -> str:
    found = _job(public_id)
    return render_template("agency/job.html", job=found, counts=_counts(found))


def _counts(job: SwitchJob) -> dict[str, int]:
    counts = {"ok": 0, "error": 0, "switched": 0, "failed": 0}
    for row in job.rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


@bp.post("/agentur/umstellung/<public_id>/start")
@roles_required(*MANAGER_AREA)
def start(public_id: str) -> BaseResponse:
    s = db.session()
    found = _job(public_id)
    if found.state is not JobState.PREVIEW:
        flash("Diese Umstellung wurde bereits gestartet.", "error")
        return redirect(url_for("agency.job", public_id=public_id))
    valid = sum(1 for r in found.rows if r["status"] == "ok")
    if valid <= services.SYNC_ROWS:
        jobs.run_now(s, found, current_settings())
    else:
        jobs.start_later(s, found)  # the worker process runs it; this page polls the progress
        s.commit()
    return redirect(url_for("agency.job", public_id=public_id))


@bp.get("/agentur/umstellung/<public_id>/status")
@roles_required(*MANAGER_AREA)
def status(public_id: str) -> str:
    """htmx polls this while a job runs."""
    found = _job(public_id)
    return render_template("agency/_progress.html", job=found, counts=_counts(found))


@bp.get("/agentur/umstellung/<public_id>/bericht.csv")
@roles_required(*MANAGER_AREA)
def report(public_id: str) -> Response:
    found = _job(public_id)
    labels = {"ok": "geprüft", "error": "abgelehnt", "switched": "umgestellt", "failed": "fehlgeschlagen"}
    body = csvsafe.to_csv(
        ["Zeile", "Vertragsnummer", "E-Mail", "Mobilnummer", "Ergebnis", "Hinweis"],
        (
            [row["line"], row["number"], row["email"], row["mobile"], labels.get(row["status"], ""), row["message"]]
            for row in found.rows
        ),
    )
    return download(body.encode(), "text/csv", f"Umstellung-{found.public_id[:8]}.csv")
