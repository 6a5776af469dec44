"""The customer portal: Meine Dokumente (read/unread, filters, paging, ZIP) and Meine Verträge."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from contracts.models import DocumentKind
from core import clock, db, paging
from core.downloads import download
from onboarding import documents as portal_documents
from onboarding.models import Customer
from onboarding.services import contracts_of

bp = Blueprint("portal", __name__, url_prefix="/portal")
F = TypeVar("F", bound=Callable[..., Any])
PAGE_SIZES = (10, 20, 50)


def customer_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated or not current_user.is_customer:
            return redirect(url_for("onboarding.login"))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _customer() -> Customer:
    customer: Customer = current_user._get_current_object()
    return customer


@bp.get("/")
@customer_required
def home() -> BaseResponse:
    return redirect(url_for("portal.documents"))


@bp.get("/dokumente")
@customer_required
def documents() -> str:
    s = db.session()
    filters = {k: request.args.get(k, "") for k in ("dokument", "status", "vertrag")}
    size = request.args.get("anzahl", 10, type=int)
    size = size if size in PAGE_SIZES else 10
    found = portal_documents.documents_page(
        s, _customer(), filters, paging.page_number(request.args.get("seite")), size
    )
    return render_template(
        "portal/documents.html",
        rows=found.items,
        total=found.total,
        page=found.number,
        size=size,
        sizes=PAGE_SIZES,
        kinds=list(DocumentKind),
        contracts=contracts_of(s, _customer()),
        filters=filters,
    )


@bp.get("/dokumente/<public_id>")
@customer_required
def document(public_id: str) -> Response:
    """Open a document (PDF); the first opening marks it read."""
    found = portal_documents.open_document(db.session(), _customer(), public_id)
    if found is None:
        abort(404)
    document, data = found
    return download(data, "application/pdf", document.filename, inline=True)


@bp.post("/dokumente/zip")
@customer_required
def download_zip() -> BaseResponse:
    """'Dateien speichern': the selected documents as one ZIP."""
    data = portal_documents.documents_zip(db.session(), _customer(), request.form.getlist("dokument"))
    if data is None:
        flash("Bitte wählen Sie mindestens ein Dokument aus.", "error")
        return redirect(url_for("portal.documents"))
    return download(data, "application/zip", f"Dokumente-{clock.now():%Y%m%d}.zip")


@bp.get("/vertraege")
@customer_required
def contracts() -> str:
    return render_template("portal/contracts.html", rows=contracts_of(db.session(), _customer()))
