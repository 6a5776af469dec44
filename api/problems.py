"""RFC 9457 problem documents: every error of the API answers `application/problem+json`, in
German (the integrator shows `detail` and the field messages to the broker), never a 500 page."""

from __future__ import annotations

from typing import Any

from flask import Response, json
from pydantic import BaseModel, Field

PROBLEM_TYPE = "https://vermittlerrechner.example/probleme/"


class FieldProblem(BaseModel):
    """One field's message: `pointer` is a JSON Pointer (RFC 6901) into the request body."""

    pointer: str = Field(examples=["/answers/plz"])
    detail: str = Field(examples=["Bitte geben Sie eine gültige Postleitzahl ein."])


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldProblem] = Field(default_factory=list)


class ApiProblem(Exception):
    """Raised anywhere below a view: the API's error handler turns it into the response."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        *,
        errors: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}

    def body(self, instance: str | None = None) -> dict[str, Any]:
        found: dict[str, Any] = {"type": PROBLEM_TYPE + self.slug, "title": self.title, "status": self.status}
        if self.detail:
            found["detail"] = self.detail
        if instance:
            found["instance"] = instance
        if self.errors:
            found["errors"] = [{"pointer": p, "detail": d} for p, d in self.errors]
        return found

    def response(self, instance: str | None = None) -> Response:
        response = Response(json.dumps(self.body(instance)), status=self.status, mimetype="application/problem+json")
        response.headers.update(self.headers)
        return response


def invalid(errors: list[tuple[str, str]], detail: str = "Bitte prüfen Sie die markierten Angaben.") -> ApiProblem:
    return ApiProblem(422, "ungueltige-angaben", "Ungültige Angaben", detail, errors=errors)


def not_found(what: str = "Das Objekt") -> ApiProblem:
    return ApiProblem(
        404, "nicht-gefunden", "Nicht gefunden", f"{what} gibt es nicht oder ist für diesen Zugang nicht sichtbar."
    )


# the German titles of the HTTP errors the API may answer outside its own checks
HTTP_TITLES = {
    400: ("ungueltige-anfrage", "Ungültige Anfrage"),
    401: ("nicht-angemeldet", "Nicht angemeldet"),
    403: ("keine-berechtigung", "Keine Berechtigung"),
    404: ("nicht-gefunden", "Nicht gefunden"),
    405: ("methode-nicht-erlaubt", "Methode nicht erlaubt"),
    406: ("nicht-annehmbar", "Antwortformat nicht verfügbar"),
    409: ("konflikt", "Konflikt"),
    413: ("zu-gross", "Anfrage zu groß"),
    415: ("falsches-format", "Falsches Format"),
    422: ("ungueltige-angaben", "Ungültige Angaben"),
    429: ("zu-viele-anfragen", "Zu viele Anfragen"),
    500: ("interner-fehler", "Interner Fehler"),
    503: ("nicht-verfuegbar", "Vorübergehend nicht verfügbar"),
}


def for_status(status: int, detail: str | None = None, headers: dict[str, str] | None = None) -> ApiProblem:
    slug, title = HTTP_TITLES.get(status, ("fehler", "Fehler"))
    return ApiProblem(status, slug, title, detail, headers=headers)
