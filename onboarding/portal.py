"""The customer portal: Meine Dokumente (read/unread, filters, paging, ZIP) and Meine Verträge."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response as BaseResponse

from calculator.forms.fields import options
from contracts import claim_status, claims, contact, versions
from contracts.models import ClaimKind
from contracts.settings import current as contract_settings
from core import clock, db, paging, storage
from core.downloads import download, stream
from core.extensions import limiter
from core.formatting import count
from core.forms import selected_ids
from onboarding import documents as portal_documents
from onboarding import kontakt
from onboarding.forms import DOCUMENTS, INVOICES, ClaimForm, ContactForm, DocumentFilterForm
from onboarding.portal_auth import customer_required, portal_account
from onboarding.queries import contract_details, contracts_of
from onboarding.settings import current as current_settings

bp = Blueprint("portal", __name__, url_prefix="/portal")
PAGE_SIZES = (10, 20, 50)


@bp.get("/")
@customer_required
def home() -> BaseResponse:
    return redirect(url_for("portal.documents"))


@bp.get("/dokumente")
@customer_required
def documents() -> str:
    """Meine Dokumente: filters (Name, Vorname, Datum or Zeitraum, Dokument, Status, Vertrag),
    newest first, 10/20/50 a page; the selection saved as ZIP or marked Gelesen/Ungelesen."""
    s = db.session()
    own = contracts_of(s, portal_account())
    form = DocumentFilterForm(request.args)
    form.vertrag.choices = options([("", "alle")] + [(c.public_id, c.number or "") for c in own])
    form.check()
    size = int(form.anzahl.data) if form.anzahl.data in {str(n) for n in PAGE_SIZES} else PAGE_SIZES[0]
    filters = portal_documents.Filters(
        name=form.name.data or "",
        first_name=form.vorname.data or "",
        start=form.day("datum") if not form.bis.errors else None,
        end=form.day("bis") if not form.datum.errors else None,
        kind=form.dokument.data or "",
        status=form.status.data or "",
        contract=form.vertrag.data or "",
        invoices={INVOICES: True, DOCUMENTS: False}.get(form.ansicht.data or ""),
    )
    found = portal_documents.documents_page(
        s, portal_account(), filters, paging.page_number(request.args.get("seite")), size
    )
    html = render_template(
        "portal/documents.html",
        rows=found.items,
        total=found.total,
        page=found.number,
        size=size,
        form=form,
        params=dict(form.filters(), anzahl=size),
        view=form.ansicht.data if form.ansicht.data in (DOCUMENTS, INVOICES) else "",
    )
    return html


@bp.post("/dokumente/markieren")
@customer_required
def mark() -> BaseResponse:
    """ "Gelesen" / "Ungelesen" for the selected documents; back to the same filtered page."""
    s, chosen = db.session(), selected_ids(request.form, "dokument")
    if request.form.get("aktion") == "ungelesen":
        done = portal_documents.mark_unread(s, portal_account(), chosen)
        message = f"{count(done, 'Dokument', 'Dokumente')} als ungelesen markiert."
    else:
        done = portal_documents.mark_chosen_read(s, portal_account(), chosen)
        message = f"{count(done, 'Dokument', 'Dokumente')} als gelesen markiert."
    s.commit()
    flash(message if done else "Bitte wählen Sie mindestens ein Dokument aus.", "success" if done else "error")
    return redirect(_back_to_list())


def _back_to_list() -> str:
    """The list as it was (its filters and page), never anywhere else."""
    params: dict[str, Any] = {k[2:]: v for k, v in request.form.items() if k.startswith("f_") and v}
    return url_for("portal.documents", **params)


@bp.get("/dokumente/<public_id>")
@customer_required
def document(public_id: str) -> Response:
    """Open a document (PDF); the first opening marks it read."""
    s = db.session()
    found = portal_documents.open_document(s, portal_account(), public_id)
    if found is None:
        abort(404)
    s.commit()  # read from now on
    document, data = found
    return download(data, "application/pdf", document.filename, inline=True)


@bp.post("/dokumente/zip")
@customer_required
def download_zip() -> BaseResponse:
    """'Dateien speichern': the selected documents as one ZIP."""
    s = db.session()
    data = portal_documents.documents_zip(s, portal_account(), selected_ids(request.form, "dokument"))
    if data is None:
        flash("Bitte wählen Sie mindestens ein Dokument aus.", "error")
        return redirect(_back_to_list())
    s.commit()  # read from now on
    return stream(data, "application/zip", f"Dokumente-{clock.now():%Y%m%d}.zip")


@bp.get("/vertraege")
@customer_required
def contracts() -> str:
    return render_template("portal/contracts.html", rows=contracts_of(db.session(), portal_account()))


@bp.get("/schaeden")
@customer_required
def claims_list() -> str:
    """Meine Schäden: his claims with their status, the amount paid and until when a paid claim can
    be bought back (Schadenrückkauf)."""
    s = db.session()
    own = contracts_of(s, portal_account())
    found = claim_status.claims_of_customer(s, [c.id for c in own])
    catalog = contract_settings().catalog
    deadlines = {c.id: claim_status.buyback_deadline(c, versions.contract_terms(catalog, c.contract)) for c in found}
    return render_template("portal/claims.html", rows=found, deadlines=deadlines)


@bp.get("/vertraege/<public_id>")
@customer_required
def contract(public_id: str) -> str:
    """One of his contracts in detail: cover, vehicle and SF-Klassen, premium, documents, his broker."""
    details = contract_details(db.session(), portal_account(), public_id, contract_settings().catalog)
    if details is None:
        abort(404)
    return render_template("portal/contract.html", **details)


@bp.route("/vertraege/<public_id>/schaden", methods=["GET", "POST"])
@customer_required
def report_claim(public_id: str) -> BaseResponse | str | tuple[str, int]:
    """Schaden melden for one of his contracts: date and place, what happened, for Kfz the other
    party and the police, photos and PDFs; a Schadennummer, a confirmation in the portal and by e-mail."""
    s = db.session()
    contract = next((c for c in contracts_of(s, portal_account()) if c.public_id == public_id), None)
    if contract is None:
        abort(404)
    config = current_app.config
    limits = claims.UploadLimits(config["CLAIM_UPLOAD_MAX_FILES"], config["CLAIM_UPLOAD_MAX_MB"] * 1024 * 1024)
    form = ClaimForm()
    today = clock.today()
    events = {e.key: e for e in claims.events_for(contract, contract_settings().catalog, today)}
    form.art.choices = options([(e.key, e.label) for e in events.values()])
    megabytes = config["CLAIM_UPLOAD_MAX_MB"]
    form.dateien.description = (
        f"Fotos (JPEG, PNG, HEIC) und PDFs, höchstens {limits.max_files} Dateien zu je {megabytes} MB"
    )
    kfz = contract.product == "kfz"
    valid = request.method == "POST" and form.validate()
    if valid and form.art.data not in events:
        form.art.errors = ["Bitte wählen Sie, was passiert ist."]
        valid = False
    if valid:
        event = events[form.art.data]
        uploads = [_read(f) for f in request.files.getlist("dateien") if f.filename]
        report = claims.ClaimReport(
            kind=ClaimKind(event.kind),
            event=event,
            occurred_on=form.occurred_on,
            place=form.ort.data or "",
            description=form.beschreibung.data or "",
            other_party=(form.gegner.data or None) if kfz else None,
            police={"ja": True, "nein": False}.get(form.polizei.data or "") if kfz else None,
        )
        try:
            claim = claims.report_claim(
                s,
                contract,
                report,
                uploads,
                limits=limits,
                today=today,
                reporter=portal_account().email,
                catalog=contract_settings().catalog,
                pdf_workers=contract_settings().pdf_workers,
            )
        except claims.ClaimError as error:
            s.rollback()
            target = form[error.field] if error.field in ("art", "datum", "ort", "beschreibung", "dateien") else None
            if target is not None:
                target.errors = [*target.errors, error.message]
            else:
                form.form_errors.append(error.message)
        else:
            s.commit()
            flash(
                f"Ihre Schadenmeldung ist eingegangen. Ihre Schadennummer: {claim.number}. "
                "Die Bestätigung finden Sie unter „Meine Dokumente“.",
                "success",
            )
            return redirect(url_for("portal.contract", public_id=contract.public_id))
    if request.method == "POST":
        files_sent = any(f.filename for f in request.files.getlist("dateien"))
        return render_template("portal/claim.html", form=form, contract=contract, kfz=kfz, files_sent=files_sent), 422
    return render_template("portal/claim.html", form=form, contract=contract, kfz=kfz, files_sent=False)


SENT = "Ihre Nachricht ist bei uns. Die Antwort finden Sie hier; wir sagen Ihnen per E-Mail Bescheid."


@bp.route("/kontakt", methods=["GET", "POST"])
@customer_required
@limiter.limit(lambda: current_app.config["CONTACT_LIMIT_PER_ADDRESS"], methods=["POST"])
def contact_page() -> BaseResponse | tuple[str, int]:
    """Kontakt (issue #29 item 8): write to the broker and the back office about one of his contracts;
    below, his Kontakthistorie in time order (its answers are read once he has seen them here)."""
    s, customer = db.session(), portal_account()
    own = contracts_of(s, customer)
    form = ContactForm()
    chosen = next((c for c in own if c.public_id == form.vertrag.data), None)
    form.vertrag.choices = options([("", "Bitte wählen")] + [(c.public_id, c.number or "") for c in own])
    subjects = contact.subjects_for(chosen) if chosen is not None else contact.SUBJECTS
    form.thema.choices = options([("", "Bitte wählen"), *subjects.items()])
    megabytes = current_app.config["CLAIM_UPLOAD_MAX_MB"]
    form.datei.description = f"ein Foto (JPEG, PNG, HEIC) oder ein PDF, höchstens {megabytes} MB"
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate() and chosen is not None:
            upload = request.files.get("datei")
            try:
                wait = kontakt.send(
                    s,
                    customer,
                    chosen,
                    form.thema.data or "",
                    form.nachricht.data or "",
                    _read(upload) if upload is not None and upload.filename else None,
                    current_settings(),
                    claims.UploadLimits(1, megabytes * 1024 * 1024),
                )
            except contact.ContactError as error:
                s.rollback()
                form[{"thema": "thema", "datei": "datei"}.get(error.field, "nachricht")].errors = [error.message]
            else:
                s.commit()
                if not wait:
                    flash(SENT, "success")
                    return redirect(url_for("portal.contact_page", _anchor="kontakthistorie"))
                form.form_errors.append(kontakt.wait_message(wait))
                status = 429
        elif chosen is None and not form.vertrag.errors:
            form.vertrag.errors = ["Bitte wählen Sie den Vertrag."]
    ids = [c.id for c in own]
    messages = contact.history(s, ids)  # loaded first: the answers new to him keep their "Neu" on this page
    if status == 200 and contact.mark_read(s, ids):  # the answers shown are read now (the badge goes)
        s.commit()
    return render_template("portal/contact.html", form=form, messages=messages, subjects=contact.SUBJECTS), status


@bp.get("/kontakt/<public_id>/anhang")
@customer_required
def contact_attachment(public_id: str) -> Response:
    """His own attachment (only messages of his own contracts are ever found)."""
    s = db.session()
    message = contact.of_contracts(s, [c.id for c in contracts_of(s, portal_account())], public_id)
    if message is None or message.attachment_key is None:
        abort(404)
    kind, name = message.attachment_type or "application/octet-stream", message.attachment_name or "Anhang"
    return download(storage.open_stream(message.attachment_key), kind, name)


def _read(upload: FileStorage) -> claims.Upload:
    """The upload's bytes; its spooled temporary file is closed at once."""
    with upload.stream:
        return claims.Upload(upload.filename or "", upload.read())
