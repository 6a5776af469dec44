"""Back office: Nachrichten (the outbox) and Postausgang (letters to print); the dev mailbox."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from core import clock, db, paging
from core.authz import BACKOFFICE_AREA, roles_required, staff_user
from core.downloads import download
from core.forms import selected_ids
from core.security import safe_next
from messaging import backoffice, queries
from messaging.models import Kind, State

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
    try:
        message = backoffice.retry(s, staff_user(), public_id)
    except backoffice.BackofficeError as error:
        s.rollback()
        flash(str(error), "error")
    else:
        if message is None:
            abort(404)
        s.commit()
        flash(f"{message.kind.label} an {message.recipient} wird erneut versendet.", "success")
    return redirect(safe_next(request.form.get("next"), url_for("messaging.messages")))


@bp.get("/innendienst/postausgang")
@roles_required(*BACKOFFICE_AREA)
def postausgang() -> str:
    """Letters to print, filtered by kind and age (values not offered: no filter)."""
    kind = request.args.get("art", "")
    kind = kind if kind in queries.LETTER_KINDS else ""
    age = request.args.get("alter", "")
    days = int(age) if age in {str(d) for d in queries.LETTER_AGES} else None
    ready, waiting, posted = queries.postausgang(
        db.session(),
        template=kind or None,
        created_before=clock.now() - timedelta(days=days) if days else None,
    )
    return render_template(
        "messaging/postausgang.html",
        ready=ready,
        waiting=waiting,
        posted=posted,
        filters={"art": kind, "alter": str(days) if days else ""},
        letter_kinds=queries.LETTER_KINDS,
        letter_ages=queries.LETTER_AGES,
    )


def _letters_word(n: int) -> str:
    return "1 Brief" if n == 1 else f"{n} Briefe"


@bp.post("/innendienst/postausgang/drucken")
@roles_required(*BACKOFFICE_AREA)
def print_batch() -> BaseResponse:
    """The selected letters as one PDF for printing (each is marked as printed)."""
    s = db.session()
    printed = backoffice.print_batch(s, selected_ids(request.form, "brief"))
    if printed is None:
        flash("Bitte wählen Sie mindestens einen Brief aus.", "error")
        return redirect(url_for("messaging.postausgang"))
    s.commit()  # marked as printed
    pdf, at = printed
    return download(pdf, "application/pdf", f"Postausgang-{at:%Y%m%d-%H%M}.pdf")


@bp.post("/innendienst/postausgang/versendet")
@roles_required(*BACKOFFICE_AREA)
def mark_posted() -> BaseResponse | str:
    """Mark the selected letters as handed to the post: first a confirmation that names the count
    (and the letters not yet printed), then, confirmed, the change."""
    chosen = selected_ids(request.form, "brief")
    if request.form.get("bestaetigt") != "1":
        letters = backoffice.ready_letters(db.session(), chosen, with_pdf=False)
        if letters:
            unprinted = [letter for letter in letters if letter.printed_at is None]
            return render_template(
                "messaging/postausgang_confirm.html", letters=letters, unprinted=unprinted, count=_letters_word
            )
        posted = 0
    else:
        posted = backoffice.mark_posted(db.session(), staff_user(), chosen)
        db.session().commit()
    if not posted:
        flash("Bitte wählen Sie mindestens einen Brief aus.", "error")
    else:
        flash(f"{_letters_word(posted)} als zur Post gegeben markiert.", "success")
    return redirect(url_for("messaging.postausgang"))


@bp.post("/innendienst/postausgang/<public_id>/zurueck")
@roles_required(*BACKOFFICE_AREA)
def unpost(public_id: str) -> BaseResponse:
    """Undo "zur Post gegeben": the letter goes back into the Postausgang (while its PDF is kept)."""
    s = db.session()
    try:
        recipient = backoffice.unpost(s, staff_user(), public_id)
    except backoffice.BackofficeError as error:
        s.rollback()
        flash(str(error), "error")
    else:
        s.commit()
        flash(f"Der Brief an {recipient} ist zurück im Postausgang.", "success")
    return redirect(url_for("messaging.postausgang"))


def _dev_only() -> None:
    if current_app.config["APP_ENV"] != "development":
        abort(404)


@bp.get("/dev/postfach")
def dev_mailbox() -> str:
    """Development only: the e-mails and SMS the app sent, so onboarding works without accounts."""
    _dev_only()
    return render_template("messaging/dev_mailbox.html", rows=backoffice.dev_messages(db.session()))


@bp.get("/dev/postfach/<public_id>.html")
def dev_mail_html(public_id: str) -> Response:
    """The HTML part of a dev e-mail, sandboxed (no scripts, no same-origin)."""
    _dev_only()
    message = backoffice.dev_email(db.session(), public_id)
    if message is None:
        abort(404)
    response = Response(message.body_html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; style-src 'unsafe-inline'"
    return response
