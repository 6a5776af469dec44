"""The customer portal: Meine Dokumente (read/unread, filters, paging, ZIP) and Meine Verträge."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from contracts.models import Contract, Document, DocumentKind
from core import audit, clock, db, paging, storage
from core.downloads import download
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


def _own_documents() -> sa.Select[Any]:
    return sa.select(Document).join(Contract).where(Contract.customer_account_id == _customer().id)


@bp.get("/")
@customer_required
def home() -> BaseResponse:
    return redirect(url_for("portal.documents"))


@bp.get("/dokumente")
@customer_required
def documents() -> str:
    s = db.session()
    kind = request.args.get("dokument", "")
    status = request.args.get("status", "")
    contract = request.args.get("vertrag", "")
    size = request.args.get("anzahl", 10, type=int)
    size = size if size in PAGE_SIZES else 10
    stmt = _own_documents()
    if kind in {k.value for k in DocumentKind}:
        stmt = stmt.where(Document.kind == DocumentKind(kind))
    if status == "gelesen":
        stmt = stmt.where(Document.read_at.is_not(None))
    elif status == "ungelesen":
        stmt = stmt.where(Document.read_at.is_(None))
    if contract:
        stmt = stmt.where(Contract.public_id == contract)
    found = paging.paginate(
        s,
        stmt.order_by(Document.created_at.desc(), Document.id.desc()),
        paging.page_number(request.args.get("seite")),
        size,
    )
    rows, total, page = found.items, found.total, found.number
    return render_template(
        "portal/documents.html",
        rows=rows,
        total=total,
        page=page,
        size=size,
        sizes=PAGE_SIZES,
        kinds=list(DocumentKind),
        contracts=contracts_of(s, _customer()),
        filters={"dokument": kind, "status": status, "vertrag": contract},
    )


def _mark_read(documents: list[Document]) -> None:
    s = db.session()
    now = clock.now()
    for document in documents:
        if document.read_at is None:
            document.read_at = now
            audit.record(
                s,
                "document_read",
                actor_label=_customer().email,
                agency_id=document.agency_id,
                object_type="document",
                object_id=document.public_id,
            )
    s.commit()


@bp.get("/dokumente/<public_id>")
@customer_required
def document(public_id: str) -> Response:
    """Open a document (PDF); the first opening marks it read."""
    document = db.session().scalar(_own_documents().where(Document.public_id == public_id))
    if document is None:
        abort(404)
    data = storage.load(document.storage_key)
    _mark_read([document])
    return download(data, "application/pdf", document.filename, inline=True)


@bp.post("/dokumente/zip")
@customer_required
def download_zip() -> BaseResponse:
    """'Dateien speichern': the selected documents as one ZIP."""
    ids = request.form.getlist("dokument")
    chosen = db.session().scalars(_own_documents().where(Document.public_id.in_(ids))).all() if ids else []
    if not chosen:
        flash("Bitte wählen Sie mindestens ein Dokument aus.", "error")
        return redirect(url_for("portal.documents"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for document in chosen:
            name = f"{document.created_at:%Y-%m-%d}_{document.filename}"
            archive.writestr(name, storage.load(document.storage_key))
    _mark_read(list(chosen))
    return download(buffer.getvalue(), "application/zip", f"Dokumente-{clock.now():%Y%m%d}.zip")


@bp.get("/vertraege")
@customer_required
def contracts() -> str:
    return render_template("portal/contracts.html", rows=contracts_of(db.session(), _customer()))
