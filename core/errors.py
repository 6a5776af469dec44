"""German error pages for 400/403/404/405/429/500 (and CSRF failures)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from core import db

log = logging.getLogger(__name__)

PAGES: dict[int, tuple[str, str]] = {
    400: ("Ungültige Anfrage", "Die Anfrage konnte nicht verarbeitet werden. Bitte versuchen Sie es erneut."),
    403: (
        "Zugriff verweigert",
        "Sie haben keine Berechtigung für diese Seite. Wenden Sie sich an Ihren Agenturleiter oder den "
        "Innendienst, wenn Sie den Zugriff benötigen.",
    ),
    404: (
        "Seite nicht gefunden",
        "Die Seite existiert nicht oder Sie haben keinen Zugriff darauf. Bitte prüfen Sie die Adresse.",
    ),
    405: ("Aktion nicht möglich", "Diese Aktion ist auf diesem Weg nicht möglich."),
    413: ("Datei zu groß", "Die hochgeladene Datei ist zu groß."),
    429: (
        "Zu viele Versuche",
        "Zu viele Versuche in kurzer Zeit. Bitte warten Sie einige Minuten und versuchen Sie es dann erneut.",
    ),
    500: (
        "Technischer Fehler",
        "Leider ist ein technischer Fehler aufgetreten. Ihre Eingaben wurden nicht gespeichert. "
        "Bitte versuchen Sie es in einigen Minuten erneut.",
    ),
}


# a machine interface under a path prefix answers its own error format (the broker API: RFC 9457
# problem documents); called with the status, the German message and the exception's headers
ErrorRenderer = Callable[[int, str | None, dict[str, str]], Any]


def register_renderer(app: Flask, prefix: str, renderer: ErrorRenderer) -> None:
    app.extensions.setdefault("error_renderers", {})[prefix] = renderer


def _renderer() -> ErrorRenderer | None:
    for prefix, renderer in current_app.extensions.get("error_renderers", {}).items():
        if request.path.startswith(prefix):
            return renderer
    return None


def render_error(status: int, message: str | None = None, headers: dict[str, str] | None = None) -> Any:
    renderer = _renderer()
    if renderer is not None:
        return renderer(status, message, headers or {})
    title, text = PAGES.get(status, PAGES[500] if status >= 500 else PAGES[400])
    return render_template("errors/error.html", status=status, title=title, text=message or text), status


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(_exc: CSRFError) -> Any:
        return render_error(
            400,
            "Das Formular ist abgelaufen oder wurde nicht von dieser Seite gesendet. "
            "Bitte laden Sie die Seite neu und senden Sie es erneut.",
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        if status >= 500:
            db.session().rollback()
        headers = {k: v for k, v in exc.get_headers() if k in ("Allow", "Retry-After", "WWW-Authenticate")}
        return render_error(status, None, headers)

    @app.errorhandler(sa.exc.DataError)
    def data_error(exc: sa.exc.DataError) -> Any:
        # the last line of defence (issue #25 item 8): a value the database refuses (NUL, a number out
        # of range) that reached it past the forms is the request's fault, not a technical error —
        # rolled back, logged, and said in German; the forms catch such values at their fields first
        log.warning("database refused a value: %s", str(exc.orig).splitlines()[0] if exc.orig else exc)
        db.session().rollback()
        return render_error(
            400, "Eine Eingabe enthält unzulässige Zeichen oder ist zu groß. Bitte prüfen Sie Ihre Eingaben."
        )

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception) -> Any:
        if isinstance(exc, HTTPException):  # pragma: no cover - handled above
            return http_error(exc)
        log.exception("unhandled error", exc_info=exc)
        db.session().rollback()
        return render_error(InternalServerError.code)
