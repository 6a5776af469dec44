"""/api/v1: thin views — parse (spectree + pydantic), call the pages' services, answer JSON.

Every view names the scope it needs (`caller(scope)`); what it reads or changes is looked up within
the calling client's user's scope (core.authz), so another agency's object is a 404 as in the pages.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Blueprint, Response, current_app, g, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer
from limits import parse as parse_limit
from pydantic import ValidationError
from spectree import Response as Responses
from spectree import SecurityScheme, SpecTree
from spectree.models import SecureType, SecuritySchemeData

from api import deliveries, idempotency, webhooks
from api.answers import DATE_FIELDS, formdata
from api.models import SCOPES, ApiClient
from api.oauth import Caller, authenticate
from api.problems import ApiProblem, Problem, for_status, invalid, not_found
from api.schemas import (
    ApplicationOut,
    ApplicationRequest,
    ContractList,
    ContractOut,
    ContractsQuery,
    CustomerRecordOut,
    DeliveriesQuery,
    DeliveryList,
    EvbOut,
    IdempotencyHeaders,
    KfzAnswers,
    KfzQuoteRequest,
    OfferOut,
    OfferRequest,
    PlaceList,
    QuoteResult,
    RsAnswers,
    RsQuoteRequest,
    VariantsOut,
    VariantsRequest,
    VehicleOut,
    WebhookList,
    WebhookOut,
    WebhookRequest,
)
from calculator import presentation as offer_presentation
from calculator import quotes, reference, variants
from calculator.models import CustomerRecord, Offer
from calculator.tariffs import Product
from contracts import evb as evb_service
from contracts import services as contract_services
from contracts.forms import ApplicationForm
from contracts.models import Application, ApplicationState, Contract, Document
from contracts.presentation import state_label
from contracts.settings import current as contract_settings
from core import audit, clock, db
from core.authz import scoped
from core.downloads import download
from core.extensions import csrf, limiter
from core.pdf import render_pdf
from messaging.outbox import MessageError

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

GERMAN = {
    "missing": "Diese Angabe fehlt.",
    "extra_forbidden": "Dieses Feld gibt es nicht.",
    "string_type": "Bitte als Text angeben.",
    "int_type": "Bitte als ganze Zahl angeben.",
    "int_parsing": "Bitte als ganze Zahl angeben.",
    "int_from_float": "Bitte als ganze Zahl angeben.",
    "bool_type": "Bitte true oder false angeben.",
    "bool_parsing": "Bitte true oder false angeben.",
    "date_type": "Bitte als Datum JJJJ-MM-TT angeben.",
    "date_parsing": "Bitte als Datum JJJJ-MM-TT angeben.",
    "date_from_datetime_parsing": "Bitte als Datum JJJJ-MM-TT angeben.",
    "date_from_datetime_inexact": "Bitte als Datum JJJJ-MM-TT angeben (ohne Uhrzeit).",
    "list_type": "Bitte als Liste angeben.",
    "dict_type": "Bitte als Objekt angeben.",
    "model_type": "Bitte als Objekt angeben.",
    "model_attributes_type": "Bitte als Objekt angeben.",
    "string_too_long": "Der Text ist zu lang.",
    "string_too_short": "Bitte angeben.",
    "string_pattern_mismatch": "Das Format stimmt nicht.",
    "too_short": "Bitte mindestens einen Wert angeben.",
    "greater_than_equal": "Der Wert ist zu klein.",
    "less_than_equal": "Der Wert ist zu groß.",
}


def _german(error: Any) -> str:
    kind = error.get("type", "")
    loc = error.get("loc") or ("",)
    if str(loc[-1]) in DATE_FIELDS and kind in ("string_type", "string_pattern_mismatch"):
        return "Bitte als Datum JJJJ-MM-TT angeben."
    if kind in ("literal_error", "enum"):
        expected = (error.get("ctx") or {}).get("expected", "")
        return f"Bitte einen dieser Werte angeben: {expected}."
    return GERMAN.get(kind, "Dieser Wert ist ungültig.")


def pointer_errors(error: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    found = []
    for item in error.errors():
        loc = [str(part) for part in item.get("loc", ()) if not str(part).startswith("function-")]
        # a union's branch names (str, int, list[str] …) are not part of the document's path
        loc = [p for p in loc if p not in ("str", "int", "bool", "date", "list[str]", "none")]
        found.append((prefix + "/" + "/".join(loc), _german(item)))
    return found


def _before(req: Any, resp: Any, error: Exception | None, instance: Any, adapter: Any) -> None:
    if not isinstance(error, ValidationError):
        return
    title = getattr(error, "title", "")
    if title.endswith("Query"):
        raise invalid([("?" + p.lstrip("/"), d) for p, d in pointer_errors(error)], "Bitte prüfen Sie die Parameter.")
    if title.endswith("Headers"):
        raise ApiProblem(
            400,
            "idempotency-key",
            "Idempotency-Key fehlt oder ist ungültig",
            "Bitte senden Sie einen Idempotency-Key (1–200 sichtbare ASCII-Zeichen), je Antrag einen eigenen.",
        )
    raise invalid(pointer_errors(error))


spec = SpecTree(
    "flask",
    title="Vermittlerrechner – Broker-API",
    version="1.0.0",
    description=(
        "Beiträge berechnen, Angebote speichern, Anträge stellen, Verträge, Dokumente (Lieferungen) und "
        "eVB-Nummern – für Vergleichsrechner und Maklerverwaltungsprogramme. Anmeldung: OAuth2 Client "
        "Credentials (POST /api/v1/oauth/token). Fehler als RFC 9457 application/problem+json."
    ),
    path="spec",
    page_templates={},
    mode="strict",
    before=_before,
    validation_error_status=422,
    security_schemes=[
        SecurityScheme(
            name="oauth2",
            data=SecuritySchemeData(
                type=SecureType.OAUTH_TWO,
                flows={
                    "clientCredentials": {
                        "tokenUrl": "/api/v1/oauth/token",
                        "scopes": dict(SCOPES),
                    }
                },
            ),
        )
    ],
    servers=[],
)


def _errors(*codes: int) -> dict[str, Any]:
    return {f"HTTP_{code}": Problem for code in codes}


def _dump(answers: Any) -> dict[str, Any]:
    return dict(answers.model_dump(exclude_none=True))


def caller(scope: str | None) -> Caller:
    """The authenticated caller with `scope`, counted against its client's rate limit."""
    found = authenticate(scope)
    audit.set_via(f"API-Zugang {found.client.name}")
    rate = parse_limit(current_app.config["API_RATE_LIMIT"])
    if not limiter.limiter.hit(rate, "api-client", found.client.client_id):
        reset = limiter.limiter.get_window_stats(rate, "api-client", found.client.client_id).reset_time
        wait = max(1, int(reset - clock.now().timestamp()))
        raise ApiProblem(
            429,
            "zu-viele-anfragen",
            "Zu viele Anfragen",
            f"Dieser Zugang darf {current_app.config['API_RATE_LIMIT']} Anfragen stellen. Bitte warten Sie {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    return found


# --- errors and request checks ---------------------------------------------------------------------


@bp.errorhandler(ApiProblem)
def _problem(error: ApiProblem) -> Response:
    db.session().rollback()
    return error.response(request.path)


def problem_for_error(status: int, message: str | None, headers: dict[str, str]) -> Response:
    """core.errors' renderer for /api/: every HTTP error (also a 404 of an unknown path, a 405) as a
    problem document."""
    return for_status(status, message, headers).response(request.path)


NO_BODY = {"api.ack_delivery", "api.request_evb"}  # POSTs that take no body


@bp.before_request
def _check_body() -> None:
    if request.endpoint == "api.token" or request.method in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return
    length = request.content_length
    if length is not None and length > current_app.config["API_MAX_BODY_BYTES"]:
        raise ApiProblem(
            413, "zu-gross", "Anfrage zu groß", f"Höchstens {current_app.config['API_MAX_BODY_BYTES']} Bytes."
        )
    if not request.get_data(cache=True):
        if request.endpoint in NO_BODY:
            return
        raise ApiProblem(400, "json-fehlt", "JSON fehlt", "Bitte senden Sie den Inhalt als JSON.")
    if request.mimetype != "application/json":
        raise ApiProblem(415, "falsches-format", "Falsches Format", "Bitte senden Sie Content-Type: application/json.")
    body = request.get_json(silent=True)  # parsed once: spectree reads Flask's cached value
    if body is None:
        raise ApiProblem(400, "json-ungueltig", "Ungültiges JSON", "Der Inhalt ist kein gültiges JSON.")
    if not isinstance(body, dict):
        raise ApiProblem(400, "json-ungueltig", "Ungültiges JSON", "Der Inhalt muss ein JSON-Objekt sein.")


# --- OAuth2 token, OpenAPI, reference ---------------------------------------------------------------


@bp.post("/oauth/token")
@limiter.limit(lambda: current_app.config["API_RATE_LIMIT"])
def token() -> Any:
    """Client credentials (RFC 6749 § 4.4): client_id and client_secret (HTTP Basic or form)."""
    server = current_app.extensions["api_oauth_server"]
    response = server.create_token_response()
    if response.status_code == 200:
        db.session().commit()
    else:
        db.session().rollback()
    return response


def document() -> dict[str, Any]:
    """spectree's OpenAPI document, with every error answer as application/problem+json (RFC 9457)
    and the request bodies' size limit (413) — built once per process."""
    global _document
    if _document is None:
        found = copy.deepcopy(spec.spec)
        for path, operations in found["paths"].items():
            for method, operation in operations.items():
                answers = operation.setdefault("responses", {})
                problem = next(iter(answers["422"]["content"].values()))
                # a query value with control characters or too long is refused before any view (core.security)
                for status in ("400", "429", "413") if method == "post" else ("400", "429"):
                    answers.setdefault(status, {"description": "Problem", "content": {"application/json": problem}})
                for status, answer in answers.items():
                    content = answer.get("content", {})
                    if int(status) >= 400 and "application/json" in content:
                        content["application/problem+json"] = content.pop("application/json")
                if path.endswith("/pdf") or path.startswith("/api/v1/documents/"):
                    answers["200"]["content"] = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
        _add_links(found)
        _document = found
    return _document


_document: dict[str, Any] | None = None

# OpenAPI links: which answer's value a next call takes (for integrators, and schemathesis' stateful
# runs follow them): (path, method, status) → [(name, target path, target method, parameter, expression)]
LINKS = {
    ("/api/v1/offers", "post", "201"): [
        ("Angebot", "/api/v1/offers/{public_id}", "get", "public_id", "$response.body#/id"),
        ("AngebotPdf", "/api/v1/offers/{public_id}/pdf", "get", "public_id", "$response.body#/id"),
    ],
    ("/api/v1/applications", "post", "201"): [
        ("Antrag", "/api/v1/applications/{public_id}", "get", "public_id", "$response.body#/id"),
        ("Vertrag", "/api/v1/contracts/{number}", "get", "number", "$response.body#/contract_number"),
    ],
    ("/api/v1/contracts", "get", "200"): [
        ("Vertrag", "/api/v1/contracts/{number}", "get", "number", "$response.body#/items/0/number"),
        ("Evb", "/api/v1/contracts/{number}/evb", "post", "number", "$response.body#/items/0/number"),
    ],
    ("/api/v1/contracts/{number}", "get", "200"): [
        ("Kunde", "/api/v1/customers/{public_id}", "get", "public_id", "$response.body#/customer_id"),
    ],
    ("/api/v1/deliveries", "get", "200"): [
        ("Dokument", "/api/v1/documents/{public_id}", "get", "public_id", "$response.body#/items/0/id"),
        ("Quittung", "/api/v1/deliveries/{public_id}/ack", "post", "public_id", "$response.body#/items/0/id"),
    ],
    ("/api/v1/webhooks", "post", "201"): [
        ("Abmelden", "/api/v1/webhooks/{public_id}", "delete", "public_id", "$response.body#/id"),
    ],
    ("/api/v1/webhooks", "get", "200"): [
        ("Abmelden", "/api/v1/webhooks/{public_id}", "delete", "public_id", "$response.body#/items/0/id"),
    ],
}


def _add_links(found: dict[str, Any]) -> None:
    for (path, method, status), links in LINKS.items():
        answer = found["paths"][path][method]["responses"][status]
        answer["links"] = {
            name: {
                "operationId": found["paths"][target][target_method]["operationId"],
                "parameters": {parameter: expression},
            }
            for name, target, target_method, parameter, expression in links
        }


@bp.get("/openapi.json")
def openapi() -> Any:
    return current_app.json.response(document())


@bp.get("/")
def reference_page() -> str:
    """The API reference, rendered from the same OpenAPI document (no script, no CDN)."""
    return render_template("api/reference.html", spec=document())


# --- vehicles and quotes ------------------------------------------------------------------------------


def _vehicle_out(session: Any, vehicle: reference.Vehicle) -> dict[str, Any]:
    classes = reference.type_classes_for(session, vehicle)
    return {
        "hsn": vehicle.hsn,
        "tsn": vehicle.tsn,
        "manufacturer": vehicle.manufacturer,
        "trade_name": vehicle.trade_name,
        "type_classes": {"kh": classes.kh, "tk": classes.tk, "vk": classes.vk} if classes else None,
    }


@bp.get("/vehicles/<hsn>/<tsn>")
@spec.validate(
    resp=Responses(HTTP_200=VehicleOut, **_errors(401, 403, 404)), tags=["Fahrzeuge"], security={"oauth2": ["quotes"]}
)
def vehicle(hsn: str, tsn: str) -> Any:
    """Fahrzeug nach HSN/TSN (KBA), mit Typklassen."""
    caller("quotes")
    s = db.session()
    found = reference.find_vehicle(s, hsn, tsn) if len(hsn) <= 4 and len(tsn) <= 3 else None
    if found is None:
        raise not_found("Ein Fahrzeug mit dieser HSN/TSN")
    return VehicleOut.model_validate(_vehicle_out(s, found))


@bp.get("/places/<plz>")
@spec.validate(
    resp=Responses(HTTP_200=PlaceList, **_errors(401, 403)), tags=["Beiträge"], security={"oauth2": ["quotes"]}
)
def places(plz: str) -> Any:
    """Die Orte einer Postleitzahl: hat sie mehrere, nennt die Angabe `ort` die Id des gewählten."""
    caller("quotes")
    found = reference.places_for(db.session(), plz) if reference.PLZ_PATTERN.match(plz) else []
    return PlaceList.model_validate(
        {"items": [{"id": str(p.id), "place": p.place, "district": p.district_name} for p in found]}
    )


def _quote(product: Product, answers: dict[str, Any]) -> tuple[quotes.Quote, Any]:
    s = db.session()
    data = formdata(answers)
    return quotes.evaluate(s, contract_settings().catalog, product, data, today=clock.today()), data


def _messages(quote: quotes.Quote) -> list[tuple[str, str]]:
    return [(f"/answers/{name}", message) for name, errors in quote.errors.items() for message in errors]


def _quote_out(quote: quotes.Quote) -> dict[str, Any]:
    assert quote.premium is not None
    return {
        "product": quote.product.value,
        "complete": quote.complete,
        "premium": quote.premium.to_dict(),
        "assumptions": [{"field": f, "label": label, "assumed": shown} for f, label, shown in quote.assumptions],
        "messages": [{"pointer": p, "detail": d} for p, d in _messages(quote)],
        "referral_reasons": quote.referral_reasons,
        "vehicle": _vehicle_out(db.session(), quote.vehicle) if quote.vehicle is not None else None,
    }


def _priced(product: Product, answers: dict[str, Any]) -> dict[str, Any]:
    quote, _ = _quote(product, answers)
    if quote.premium is None:
        raise invalid(_messages(quote), "Ohne diese Angaben lässt sich kein Beitrag berechnen.")
    return _quote_out(quote)


@bp.post("/quotes/kfz")
@spec.validate(
    json=KfzQuoteRequest,
    resp=Responses(HTTP_200=QuoteResult, **_errors(400, 401, 403, 415, 422)),
    tags=["Beiträge"],
    security={"oauth2": ["quotes"]},
)
def quote_kfz(json: KfzQuoteRequest) -> Any:
    """Kfz-Beitrag berechnen (zustandslos): Beitrag mit Aufschlüsselung, Annahmen, Hinweisen."""
    caller("quotes")
    return QuoteResult.model_validate(_priced(Product.KFZ, _dump(json.answers)))


@bp.post("/quotes/rs")
@spec.validate(
    json=RsQuoteRequest,
    resp=Responses(HTTP_200=QuoteResult, **_errors(400, 401, 403, 415, 422)),
    tags=["Beiträge"],
    security={"oauth2": ["quotes"]},
)
def quote_rs(json: RsQuoteRequest) -> Any:
    """Rechtsschutz-Beitrag berechnen (zustandslos)."""
    caller("quotes")
    return QuoteResult.model_validate(_priced(Product.RS, _dump(json.answers)))


# --- offers ---------------------------------------------------------------------------------------------


def _offer_out(s: Any, offer: Offer) -> dict[str, Any]:
    application = s.scalar(sa.select(Application.public_id).where(Application.offer_id == offer.id))
    return {
        "id": offer.public_id,
        "product": offer.product,
        "name": offer.name,
        "applicant": offer.applicant_name,
        "premium": offer.premium,
        "referral_reasons": offer.referral_reasons,
        "created_at": offer.created_at,
        "pdf": url_for("api.offer_pdf", public_id=offer.public_id),
        "application": application,
    }


@bp.post("/offers")
@spec.validate(
    json=OfferRequest,
    resp=Responses(HTTP_201=OfferOut, **_errors(400, 401, 403, 415, 422)),
    tags=["Angebote"],
    security={"oauth2": ["quotes"]},
)
def create_offer(json: OfferRequest) -> Any:
    """Angebot speichern: vollständige Angaben (keine Annahmen), optional unter einem Namen."""
    who = caller("quotes")
    product = Product(json.product)
    model = KfzAnswers if product is Product.KFZ else RsAnswers
    try:
        answers = model.model_validate(json.answers)
    except ValidationError as error:
        raise invalid(pointer_errors(error, "/answers")) from error
    quote, data = _quote(product, answers.model_dump(exclude_none=True))
    problems = _messages(quote)
    problems += [
        (f"/answers/{field}", f"Angenommen: {shown}. Bitte die Angabe senden.")
        for field, _l, shown in quote.assumptions
    ]
    if problems or not quote.complete:
        raise invalid(problems, "Das Angebot ist noch nicht vollständig.")
    s = db.session()
    offer = quotes.save_offer(s, who.user, quote, data)
    if json.name:
        try:
            offer = quotes.name_offer(s, who.user, offer, json.name)
        except quotes.OfferError as error:
            raise invalid([("/name", str(error))]) from error
    s.commit()
    return OfferOut.model_validate(_offer_out(s, offer)), 201


def _visible(model: type, who: Caller, **criteria: Any) -> Any:
    found = db.session().scalar(scoped(sa.select(model).filter_by(**criteria), model, who.user))
    if found is None:
        raise not_found()
    return found


@bp.get("/offers/<public_id>")
@spec.validate(
    resp=Responses(HTTP_200=OfferOut, **_errors(401, 403, 404)), tags=["Angebote"], security={"oauth2": ["quotes"]}
)
def get_offer(public_id: str) -> Any:
    """Ein gespeichertes Angebot."""
    who = caller("quotes")
    return OfferOut.model_validate(_offer_out(db.session(), _visible(Offer, who, public_id=public_id)))


@bp.get("/offers/<public_id>/pdf")
@spec.validate(
    resp=Responses(HTTP_200=None, **_errors(401, 403, 404)), tags=["Angebote"], security={"oauth2": ["quotes"]}
)
def offer_pdf(public_id: str) -> Response:
    """Das Angebot als PDF (wie „PDF erstellen“)."""
    who = caller("quotes")
    s = db.session()
    offer = _visible(Offer, who, public_id=public_id)
    details = offer_presentation.offer_details(s, contract_settings().catalog, offer, clock.today())
    html = render_template("documents/offer.html", created=clock.now(), **details)
    return _pdf(download(render_pdf(html), "application/pdf", f"Angebot-{offer.public_id[:8]}.pdf"))


def _pdf(response: Response) -> Response:
    """spectree reads the body of every answer it checks: a file answer is read (a document is a few
    hundred KB) instead of passed through."""
    response.direct_passthrough = False
    return response


def _variant_changes(product: Product, given: Any) -> dict[str, list[str]]:
    changes: dict[str, list[str]] = {}
    for name in variants.FIELDS[product]:
        value = getattr(given, name)
        if value is None:
            continue
        changes[name] = (
            ["y"] if value is True else [] if value is False else value if isinstance(value, list) else [value]
        )
    return changes


@bp.post("/offers/<public_id>/variants")
@spec.validate(
    json=VariantsRequest,
    resp=Responses(HTTP_200=VariantsOut, **_errors(400, 401, 403, 404, 415, 422)),
    tags=["Angebote"],
    security={"oauth2": ["quotes"]},
)
def offer_variants(public_id: str, json: VariantsRequest) -> Any:
    """Varianten nebeneinander (wie der Angebotsvergleich): bis zu drei geänderte Deckungen, jede auf
    dem heutigen Tarif berechnet; `choose` speichert eine als eigenes Angebot für den Antrag."""
    who = caller("quotes")
    s = db.session()
    offer = _visible(Offer, who, public_id=public_id)
    product = Product(offer.product)
    asked = [(i, _variant_changes(product, v)) for i, v in enumerate(json.variants, start=1)]
    columns, _rows = variants.compare(s, contract_settings().catalog, offer, asked, clock.today())
    chosen = None
    if json.choose is not None:
        if json.choose > len(asked):
            raise invalid([("/choose", "Diese Variante gibt es in der Anfrage nicht.")])
        try:
            chosen = variants.choose(
                s, who.user, contract_settings().catalog, offer, asked[json.choose - 1][1], clock.today()
            )
        except variants.VariantError as error:
            raise invalid([(f"/variants/{json.choose - 1}", str(error))]) from error
        s.commit()
    return VariantsOut.model_validate(
        {
            "columns": [
                {
                    "title": c.title,
                    "changes": c.changes,
                    "premium": c.quote.premium.to_dict() if c.quote.premium else None,
                    "problem": c.problem,
                }
                for c in columns
            ],
            "chosen_offer": _offer_out(s, chosen) if chosen is not None else None,
        }
    )


# --- applications ------------------------------------------------------------------------------------

STATUS = {
    ApplicationState.REFERRED: "in_risikopruefung",
    ApplicationState.POLICED: "angenommen",
    ApplicationState.DECLINED: "abgelehnt",
}


def _application_out(application: Application) -> dict[str, Any]:
    """As JSON values (the idempotency record keeps them)."""
    contract = application.contract
    return ApplicationOut.model_validate(
        {
            "id": application.public_id,
            "offer_id": application.offer.public_id,
            "status": STATUS[application.state],
            "status_label": application.state.label,
            "referral_reasons": application.referral_reasons,
            "decline_reason": application.decline_reason,
            "contract_number": contract.number if contract is not None else None,
            "submitted_at": application.submitted_at,
            "decided_at": application.decided_at,
        }
    ).model_dump(mode="json")


@bp.post("/applications")
@spec.validate(
    json=ApplicationRequest,
    headers=IdempotencyHeaders,
    resp=Responses(HTTP_201=ApplicationOut, HTTP_200=ApplicationOut, **_errors(400, 401, 403, 404, 409, 415, 422)),
    tags=["Anträge"],
    security={"oauth2": ["applications"]},
)
def create_application(json: ApplicationRequest, headers: IdempotencyHeaders) -> Any:
    """Online beantragen (wie die Antragsseite): Vertragsbeginn, SEPA-Mandat, Zustellweg, die
    gesetzlich nötigen Erklärungen. Ein Antrag je Angebot; der Idempotency-Key macht Wiederholungen sicher."""
    who = caller("applications")
    s = db.session()
    fingerprint = hashlib.sha256(request.get_data(cache=True)).hexdigest()

    def submit() -> tuple[int, dict[str, Any]]:
        offer = _visible(Offer, who, public_id=json.offer_id)
        existing = s.scalar(sa.select(Application).where(Application.offer_id == offer.id))
        if existing is not None:
            return 200, _application_out(existing)
        form = ApplicationForm(formdata=formdata(_dump(json.answers)), today=clock.today(), meta={"csrf": False})
        try:
            application = contract_services.apply_online(s, who.user, offer, form, contract_settings())
        except contract_services.ApplicationInvalid as error:
            problems = [(f"/answers/{f.name}", m) for f in form for m in f.errors]
            problems += [("/offer_id", m) for m in form.form_errors]
            raise invalid(problems) from error
        except MessageError as error:
            raise invalid(
                [("/offer_id", f"Die Vertragsunterlagen können so nicht versendet werden: {error}")]
            ) from error
        return 201, _application_out(application)

    status, body = idempotency.once(s, who.client, headers.idempotency_key, fingerprint, submit)
    s.commit()
    return ApplicationOut.model_validate(body), status


@bp.get("/applications/<public_id>")
@spec.validate(
    resp=Responses(HTTP_200=ApplicationOut, **_errors(401, 403, 404)),
    tags=["Anträge"],
    security={"oauth2": ["applications"]},
)
def get_application(public_id: str) -> Any:
    """Stand eines Antrags: in Risikoprüfung, angenommen (mit Vertragsnummer) oder abgelehnt (mit Grund)."""
    who = caller("applications")
    return ApplicationOut.model_validate(_application_out(_visible(Application, who, public_id=public_id)))


# --- contracts and eVB ---------------------------------------------------------------------------------


def _evb_out(found: Any) -> dict[str, Any] | None:
    if found is None:
        return None
    return {
        "code": found.code,
        "valid_until": found.valid_until,
        "vehicle": found.vehicle,
        "revoked": found.revoked_at is not None,
    }


def _contracts(who: Caller, stmt: sa.Select[Any]) -> list[tuple[Contract, str | None]]:
    """Contracts in the caller's scope with their Kunde's id and their eVB, in one statement (a page
    of 200 contracts is not 400 more queries)."""
    scoped_stmt = scoped(
        stmt.add_columns(CustomerRecord.public_id)
        .outerjoin(CustomerRecord, CustomerRecord.id == Contract.client_id)
        .options(so.selectinload(Contract.evb)),
        Contract,
        who.user,
    )
    return [(contract, customer) for contract, customer in db.session().execute(scoped_stmt)]


def _contract_out(contract: Contract, customer_id: str | None) -> dict[str, Any]:
    return {
        "number": contract.number,
        "product": contract.product,
        "tariff_version": contract.tariff_version,
        "start_date": contract.start_date,
        "ends_on": contract.ends_on,
        "delivery": contract.delivery.value,
        "frequency": contract.frequency,
        "total": str(contract.total),
        "annual_total": str(contract.annual_total),
        "customer": {
            "name": contract.customer_name,
            "email": contract.customer_email,
            "mobile": contract.customer_mobile,
            "portal_state": contract.onboarding_state,
            "portal_state_label": state_label(contract),
        },
        "evb": _evb_out(contract.evb) if contract.product == Product.KFZ.value else None,
        "customer_id": customer_id,
    }


def _cursor(kind: str, who: Caller) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"api-{kind}:{who.client.client_id}")


def _read_cursor(kind: str, who: Caller, value: str | None, name: str) -> int:
    if not value:
        return 0
    try:
        found = _cursor(kind, who).loads(value)
    except BadSignature as error:
        raise invalid([(f"?{name}", "Dieser Cursor ist ungültig (nur Cursor aus unseren Antworten).")]) from error
    if not isinstance(found, int) or found < 0:
        raise invalid([(f"?{name}", "Dieser Cursor ist ungültig.")])
    return found


@bp.get("/contracts")
@spec.validate(
    query=ContractsQuery,
    resp=Responses(HTTP_200=ContractList, **_errors(401, 403, 422)),
    tags=["Verträge"],
    security={"oauth2": ["contracts:read"]},
)
def list_contracts(query: ContractsQuery) -> Any:
    """Die Verträge des Zugangs, nach Policierung geordnet, seitenweise."""
    who = caller("contracts:read")
    after = _read_cursor("contracts", who, query.nach, "nach")
    rows = _contracts(
        who,
        sa.select(Contract)
        .where(Contract.id > after, Contract.number.is_not(None))
        .order_by(Contract.id)
        .limit(query.limit + 1),
    )
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    return ContractList.model_validate(
        {
            "items": [_contract_out(c, customer) for c, customer in rows],
            "next": _cursor("contracts", who).dumps(rows[-1][0].id) if more and rows else None,
        }
    )


@bp.get("/contracts/<number>")
@spec.validate(
    resp=Responses(HTTP_200=ContractOut, **_errors(401, 403, 404)),
    tags=["Verträge"],
    security={"oauth2": ["contracts:read"]},
)
def get_contract(number: str) -> Any:
    """Ein Vertrag mit Kunde und Stand des Kunden-Portals."""
    who = caller("contracts:read")
    found = _contracts(who, sa.select(Contract).where(Contract.number == number))
    if not found:
        raise not_found()
    return ContractOut.model_validate(_contract_out(*found[0]))


@bp.post("/contracts/<number>/evb")
@spec.validate(
    resp=Responses(HTTP_201=EvbOut, HTTP_200=EvbOut, **_errors(401, 403, 404, 422)),
    tags=["eVB"],
    security={"oauth2": ["evb"]},
)
def request_evb(number: str) -> Any:
    """eVB-Nummer für einen Kfz-Vertrag (wie „eVB anfordern“): ausgegeben und dem Kunden gesendet;
    hat der Vertrag schon eine, kommt diese."""
    who = caller("evb")
    s = db.session()
    contract = _visible(Contract, who, number=number)
    had = contract.evb is not None
    try:
        issued = contract_services.request_evb(s, contract, who.user, contract_settings())
    except evb_service.EvbError as error:
        raise invalid([("/", str(error))], str(error)) from error
    s.commit()
    return EvbOut.model_validate(_evb_out(issued)), 200 if had else 201


@bp.get("/customers/<public_id>")
@spec.validate(
    resp=Responses(HTTP_200=CustomerRecordOut, **_errors(401, 403, 404)),
    tags=["Verträge"],
    security={"oauth2": ["contracts:read"]},
)
def get_customer(public_id: str) -> Any:
    """Ein Kunde mit seinen Verträgen und dem Stand des Kunden-Portals je Vertrag."""
    who = caller("contracts:read")
    record = _visible(CustomerRecord, who, public_id=public_id)
    stmt = scoped(
        sa.select(Contract).where(Contract.client_id == record.id, Contract.number.is_not(None)).order_by(Contract.id),
        Contract,
        who.user,
    )
    contracts = [
        {
            "number": c.number,
            "product": c.product,
            "start_date": c.start_date,
            "ends_on": c.ends_on,
            "delivery": c.delivery.value,
            "portal_state": c.onboarding_state,
            "portal_state_label": state_label(c),
        }
        for c in db.session().scalars(stmt)
    ]
    return CustomerRecordOut.model_validate(
        {
            "id": record.public_id,
            "salutation": record.salutation,
            "first_name": record.first_name,
            "last_name": record.last_name,
            "birth_date": record.birth_date,
            "street": record.street,
            "plz": record.plz,
            "city": record.city,
            "email": record.email,
            "mobile": record.mobile,
            "contracts": contracts,
        }
    )


# --- deliveries and documents ----------------------------------------------------------------------------


@bp.get("/deliveries")
@spec.validate(
    query=DeliveriesQuery,
    resp=Responses(HTTP_200=DeliveryList, **_errors(401, 403, 422)),
    tags=["Lieferungen"],
    security={"oauth2": ["documents:read"]},
)
def list_deliveries(query: DeliveriesQuery) -> Any:
    """Neue Dokumente der Verträge des Zugangs (Lieferungen, wie BiPRO-Transfer): was nicht
    quittiert ist, bleibt in der Liste; `since` blättert weiter."""
    who = caller("documents:read")
    after = _read_cursor("deliveries", who, query.since, "since")
    rows, last = deliveries.page(db.session(), who.client, who.user, after, query.limit)
    return DeliveryList.model_validate(
        {
            "items": [
                {
                    "id": d.public_id,
                    "kind": d.kind.value,
                    "kind_label": d.kind.label,
                    "title": d.title,
                    "filename": d.filename,
                    "size": d.size,
                    "sha256": d.sha256,
                    "created_at": d.created_at,
                    "contract_number": number,
                    "customer_name": customer,
                    "document": url_for("api.get_document", public_id=d.public_id),
                }
                for d, number, customer in rows
            ],
            "cursor": _cursor("deliveries", who).dumps(last) if last is not None else None,
        }
    )


@bp.post("/deliveries/<public_id>/ack")
@spec.validate(
    resp=Responses(HTTP_204=None, **_errors(401, 403, 404)),
    tags=["Lieferungen"],
    security={"oauth2": ["documents:read"]},
)
def ack_delivery(public_id: str) -> Any:
    """Quittieren: das Dokument ist abgeholt und erscheint nicht mehr in /deliveries."""
    who = caller("documents:read")
    s = db.session()
    document = _visible(Document, who, public_id=public_id)
    deliveries.acknowledge(s, who.client, document)
    s.commit()
    return Response(status=204)


@bp.get("/documents/<public_id>")
@spec.validate(
    resp=Responses(HTTP_200=None, **_errors(401, 403, 404)),
    tags=["Lieferungen"],
    security={"oauth2": ["documents:read"]},
)
def get_document(public_id: str) -> Response:
    """Das Dokument als PDF."""
    who = caller("documents:read")
    s = db.session()
    document = _visible(Document, who, public_id=public_id)
    stream = contract_services.read_document(s, who.user, document)
    s.commit()
    return _pdf(download(stream, "application/pdf", document.filename))


# --- webhooks ----------------------------------------------------------------------------------------


def _webhook_out(endpoint: Any, secret: str | None = None) -> dict[str, Any]:
    return {
        "id": endpoint.public_id,
        "url": endpoint.url,
        "events": endpoint.events,
        "created_at": endpoint.created_at,
        "secret": secret,
    }


@bp.post("/webhooks")
@spec.validate(
    json=WebhookRequest,
    resp=Responses(HTTP_201=WebhookOut, **_errors(400, 401, 415, 422)),
    tags=["Webhooks"],
    security={"oauth2": []},
)
def create_webhook(json: WebhookRequest) -> Any:
    """Webhook-Endpunkt anmelden; der Signatur-Schlüssel (Standard Webhooks) kommt nur jetzt."""
    who = caller(None)
    s = db.session()
    try:
        endpoint, secret = webhooks.register(
            s,
            who.client,
            who.user,
            json.url,
            list(json.events),
            insecure_allowed=current_app.config["API_WEBHOOK_ALLOW_INSECURE"],
        )
    except webhooks.WebhookError as error:
        raise invalid([(f"/{error.field}", error.message)]) from error
    s.commit()
    return WebhookOut.model_validate(_webhook_out(endpoint, secret)), 201


@bp.get("/webhooks")
@spec.validate(resp=Responses(HTTP_200=WebhookList, **_errors(401)), tags=["Webhooks"], security={"oauth2": []})
def list_webhooks() -> Any:
    """Die angemeldeten Webhook-Endpunkte des Zugangs."""
    who = caller(None)
    return WebhookList.model_validate(
        {"items": [_webhook_out(e) for e in webhooks.endpoints_of(db.session(), who.client)]}
    )


@bp.delete("/webhooks/<public_id>")
@spec.validate(resp=Responses(HTTP_204=None, **_errors(401, 404)), tags=["Webhooks"], security={"oauth2": []})
def delete_webhook(public_id: str) -> Any:
    """Webhook-Endpunkt abmelden: keine weiteren Zustellungen."""
    who = caller(None)
    s = db.session()
    if not webhooks.disable(s, who.client, who.user, public_id):
        raise not_found("Der Webhook-Endpunkt")
    s.commit()
    return Response(status=204)


@bp.get("/ping")
@spec.validate(resp=Responses(HTTP_200=None, **_errors(401)), tags=["Zugang"], security={"oauth2": []})
def ping() -> Any:
    """Prüft das Token: der Name des Zugangs und seine Berechtigungen."""
    who = caller(None)
    return {"client": who.client.name, "scopes": sorted(who.scopes)}


def current_client() -> ApiClient | None:
    found = getattr(g, "api_caller", None)
    return found.client if found is not None else None


spec.register(bp)  # /api/v1/spec/openapi.json too; the routes above are read from the blueprint's app
