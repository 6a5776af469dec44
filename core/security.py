"""HTTP security headers and safe redirects."""

from __future__ import annotations

from typing import TypeGuard
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request

# Only our own origin; no inline script or style (htmx is configured not to inject styles).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def set_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    # personal data must not linger in shared or browser caches: every response of ours (pages,
    # PDFs, ZIPs, CSV reports, the access link page) but our static files is private and not stored
    if request.endpoint != "static":
        headers["Cache-Control"] = "private, no-store"
    if request.endpoint != "static":
        # one place for it: a page and its htmx fragment share a URL, caches must tell them apart
        headers.add("Vary", "HX-Request")
    return response


def is_safe_redirect(target: str | None) -> TypeGuard[str]:
    """Only same-site relative paths: no scheme, no host, no protocol-relative '//', no backslash
    and no control characters or spaces (browsers drop tabs and line breaks: '/\t/evil' is '//evil')."""
    if not target or not target.startswith("/") or "\\" in target:
        return False
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target):
        return False
    if target.startswith("//"):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None, fallback: str) -> str:
    """Where to go after a form: the given local path, or the fallback for anything else."""
    return target if is_safe_redirect(target) else fallback


def refuse_control_characters() -> tuple[str, int] | None:
    """A query string with NUL or another C0 control character is refused in one place, with the
    German message (issue #25 item 4): PostgreSQL refuses NUL, and no search or filter needs one."""
    from core.errors import render_error
    from core.forms import has_control_characters

    if any(
        has_control_characters(key) or has_control_characters(value) for key, value in request.args.items(multi=True)
    ):
        return render_error(400, "Die Adresse enthält Steuerzeichen. Bitte geben Sie die Suche ohne sie erneut ein.")
    longest = current_app.config["QUERY_VALUE_MAX_LENGTH"]
    if any(len(value) > longest for value in request.args.values()):
        # a search term of 100 KiB reached SQLite's LIKE ("pattern too complex", a 500); no search or
        # filter needs more than a few words (issue #25 item 8, found by the fuzz test)
        return render_error(400, f"Eine Suche darf höchstens {longest} Zeichen lang sein. Bitte kürzen Sie sie.")
    return None


def init_app(app: Flask) -> None:
    app.before_request(refuse_control_characters)
    app.after_request(set_security_headers)
