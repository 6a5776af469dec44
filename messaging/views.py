"""Back office: Nachrichten (the outbox) and Postausgang (letters to print); the dev mailbox."""

from __future__ import annotations

import io

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from pypdf import PdfWriter
from werkzeug.wrappers import Response as BaseResponse

from core import audit, clock, db, paging
from core.authz import BACKOFFICE_AREA, roles_required
from core.downloads import download
from core.security import safe_next
from messaging import queries
from messaging.models import Kind, OutboxMessage, State

bp = Blueprint("messaging", __name__)
PAGE_SIZE = 50


def _filters() -> dict[str, str]:
    return {
        "state": request.args.get("status", ""),
        "kind": request.args.get("art", ""),
        "q": request.args.get("q", "").strip(),
    }


@bp.get("/innendienst/nachrichten")
@roles_required(*BACKOFFICE_AREA)
def messages() -> str:
    """Counts per kind and state; messages filtered by state, kind and recipient; failed first."""
    s = db.session()
    f = _filters()
    found = queries.messages_page(
        s,
        state=f["state"],
        kind=f["kind"],
        recipient=f["q"],
        page=paging.page_number(request.args.get("seite")),
        size=PAGE_SIZE,
    )
    return render_template(
        "messaging/messages.html",
        counts=queries.counts(s),
        kinds=list(Kind),
        states=list(State),
        rows=found.items,
        filters=f,
        page=found.number,
        total=found.total,
        page_size=PAGE_SIZE,
    )


@bp.post("/innendienst/nachrichten/<public_id>/erneut")
@roles_required(*BACKOFFICE_AREA)
def retry(public_id: str) -> BaseResponse:
    """A failed (or waiting) message is tried again now, with a fresh set of attempts."""
    s = db.session()
    message = s.scalar(sa.select(OutboxMessage).where(OutboxMessage.public_id == public_id))
    if message is None:
        abort(404)
    if message.state not in (State.FAILED, State.PENDING):
        flash("Diese Nachricht wird gerade zugestellt oder ist bereits versendet.", "error")
    else:
        message.state = State.PENDING
        message.attempts = 0
        message.next_attempt_at = clock.now()
        audit.record(
            s,
            "message_retried",
            actor=current_user._get_current_object(),
            object_type="message",
            object_id=message.public_id,
            details={"kind": message.kind.value},
        )
        s.commit()
        flash(f"{message.kind.label} an {message.recipient} wird erneut versendet.", "success")
    return redirect(safe_next(request.form.get("next"), url_for("messaging.messages")))


@bp.get("/innendienst/postausgang")
@roles_required(*BACKOFFICE_AREA)
def postausgang() -> str:
    ready, waiting, posted = queries.postausgang(db.session())
    return render_template("messaging/postausgang.html", ready=ready, waiting=waiting, posted=posted)


def _selected_letters(s: so.Session, *, with_pdf: bool = True) -> list[OutboxMessage]:
    ids = request.form.getlist("brief")
    if not ids:
        return []
    stmt = sa.select(OutboxMessage).where(
        OutboxMessage.public_id.in_(ids), OutboxMessage.kind == Kind.LETTER, OutboxMessage.state == State.READY
    )
    if with_pdf:
        stmt = stmt.options(so.undefer(OutboxMessage.pdf))
    return list(s.scalars(stmt.order_by(OutboxMessage.created_at, OutboxMessage.id)))


def _letters_word(n: int) -> str:
    return "1 Brief" if n == 1 else f"{n} Briefe"


@bp.post("/innendienst/postausgang/drucken")
@roles_required(*BACKOFFICE_AREA)
def print_batch() -> BaseResponse:
    """The selected letters as one PDF for printing (each is marked as printed)."""
    s = db.session()
    letters = _selected_letters(s)
    if not letters:
        flash("Bitte wählen Sie mindestens einen Brief aus.", "error")
        return redirect(url_for("messaging.postausgang"))
    writer = PdfWriter()
    now = clock.now()
    for letter in letters:
        assert letter.pdf is not None
        writer.append(io.BytesIO(letter.pdf))
        letter.printed_at = now
    s.commit()
    out = io.BytesIO()
    writer.write(out)
    return download(out.getvalue(), "application/pdf", f"Postausgang-{now:%Y%m%d-%H%M}.pdf")


@bp.post("/innendienst/postausgang/versendet")
@roles_required(*BACKOFFICE_AREA)
def mark_posted() -> BaseResponse | str:
    """Mark the selected letters as handed to the post: first a confirmation that names the count
    (and the letters not yet printed), then, confirmed, the change."""
    s = db.session()
    letters = _selected_letters(s, with_pdf=False)
    if not letters:
        flash("Bitte wählen Sie mindestens einen Brief aus.", "error")
        return redirect(url_for("messaging.postausgang"))
    if request.form.get("bestaetigt") != "1":
        unprinted = [letter for letter in letters if letter.printed_at is None]
        return render_template(
            "messaging/postausgang_confirm.html", letters=letters, unprinted=unprinted, count=_letters_word
        )
    user = current_user._get_current_object()
    now = clock.now()
    for letter in letters:
        letter.state = State.POSTED
        letter.sent_at = now
        letter.posted_by = user.email
        audit.record(
            s,
            "letter_posted",
            actor=user,
            object_type="message",
            object_id=letter.public_id,
            agency_id=letter.agency_id,
        )
    s.commit()
    flash(f"{_letters_word(len(letters))} als zur Post gegeben markiert.", "success")
    return redirect(url_for("messaging.postausgang"))


@bp.post("/innendienst/postausgang/<public_id>/zurueck")
@roles_required(*BACKOFFICE_AREA)
def unpost(public_id: str) -> BaseResponse:
    """Undo "zur Post gegeben": the letter goes back into the Postausgang (while its PDF is kept)."""
    s = db.session()
    letter = s.scalar(
        sa.select(OutboxMessage).where(
            OutboxMessage.public_id == public_id,
            OutboxMessage.kind == Kind.LETTER,
            OutboxMessage.state == State.POSTED,
            OutboxMessage.pdf.is_not(None),
        )
    )
    if letter is None:
        flash(
            "Dieser Brief kann nicht mehr zurückgeholt werden (nicht zur Post gegeben oder bereits gelöscht).", "error"
        )
        return redirect(url_for("messaging.postausgang"))
    letter.state, letter.sent_at, letter.posted_by = State.READY, None, None
    audit.record(
        s,
        "letter_unposted",
        actor=current_user._get_current_object(),
        object_type="message",
        object_id=letter.public_id,
        agency_id=letter.agency_id,
    )
    s.commit()
    flash(f"Der Brief an {letter.recipient} ist zurück im Postausgang.", "success")
    return redirect(url_for("messaging.postausgang"))


def _dev_only() -> None:
    if current_app.config["APP_ENV"] != "development":
        abort(404)


@bp.get("/dev/postfach")
def dev_mailbox() -> str:
    """Development only: the e-mails and SMS the app sent, so onboarding works without accounts."""
    _dev_only()
    rows = (
        db.session()
        .scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.kind.in_([Kind.EMAIL, Kind.SMS]))
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(100)
        )
        .all()
    )
    return render_template("messaging/dev_mailbox.html", rows=rows)


@bp.get("/dev/postfach/<public_id>.html")
def dev_mail_html(public_id: str) -> Response:
    """The HTML part of a dev e-mail, sandboxed (no scripts, no same-origin)."""
    _dev_only()
    message = db.session().scalar(sa.select(OutboxMessage).where(OutboxMessage.public_id == public_id))
    if message is None or message.kind is not Kind.EMAIL:
        abort(404)
    response = Response(message.body_html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; style-src 'unsafe-inline'"
    return response
