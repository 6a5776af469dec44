"""The API's JSON shapes (pydantic): the OpenAPI document is generated from them by spectree, and
spectree checks every request against them and every answer too (a mismatch is our bug)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.answers import answer_model
from calculator.forms import FORMS, QuoteForm
from calculator.tariffs import Product
from contracts.forms import ApplicationForm


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


KfzAnswers = answer_model("KfzAnswers", FORMS[Product.KFZ])
RsAnswers = answer_model("RsAnswers", FORMS[Product.RS])
# the Antrag's own questions (the quote's answers are the offer's)
ApplicationAnswers = answer_model("ApplicationAnswers", ApplicationForm, skip=frozenset(dict(vars(QuoteForm)).keys()))


class KfzQuoteRequest(Strict):
    answers: KfzAnswers  # type: ignore[valid-type]


class RsQuoteRequest(Strict):
    answers: RsAnswers  # type: ignore[valid-type]


class PremiumLine(BaseModel):
    kind: str
    label: str
    amount: str = Field(description="Euro, zwei Nachkommastellen", examples=["41.23"])


class Premium(BaseModel):
    product: Literal["kfz", "rs"]
    tariff_version: str
    frequency: str
    total: str = Field(description="Beitrag je Zahlungsperiode inkl. 19 % Versicherungsteuer")
    annual_total: str
    tax: str
    lines: list[PremiumLine]


class FieldMessage(BaseModel):
    pointer: str
    detail: str


class Assumption(BaseModel):
    field: str
    label: str
    assumed: str


class VehicleOut(BaseModel):
    hsn: str
    tsn: str
    manufacturer: str
    trade_name: str
    type_classes: dict[str, int] | None = Field(default=None, description="Typklassen KH/TK/VK")


class QuoteResult(BaseModel):
    product: Literal["kfz", "rs"]
    complete: bool = Field(description="alle Angaben gültig, nichts angenommen: als Angebot speicherbar")
    premium: Premium
    assumptions: list[Assumption]
    messages: list[FieldMessage] = Field(description="Hinweise zu Angaben, die den Beitrag nicht hindern")
    referral_reasons: list[str] = Field(description="Gründe für eine Risikoprüfung vor der Policierung")
    vehicle: VehicleOut | None = None


class OfferRequest(Strict):
    product: Literal["kfz", "rs"]
    answers: dict[str, str | int | bool | date | list[str] | None] = Field(
        description="die Angaben wie bei POST /quotes/kfz bzw. /quotes/rs"
    )
    name: str | None = Field(default=None, max_length=120, description="„Speichern unter“: der Name des Angebots")


class OfferOut(BaseModel):
    id: str
    product: Literal["kfz", "rs"]
    name: str | None
    applicant: str
    premium: Premium
    referral_reasons: list[str]
    created_at: datetime
    pdf: str = Field(description="Pfad des Angebots als PDF")
    application: str | None = Field(default=None, description="Id des Antrags, falls beantragt")


class ApplicationRequest(Strict):
    offer_id: str = Field(max_length=32)
    answers: ApplicationAnswers  # type: ignore[valid-type]


class ApplicationOut(BaseModel):
    id: str
    offer_id: str
    status: Literal["eingereicht", "in_risikopruefung", "angenommen", "abgelehnt"]
    status_label: str
    referral_reasons: list[str]
    decline_reason: str | None = None
    contract_number: str | None = None
    submitted_at: datetime
    decided_at: datetime | None = None


class CustomerOut(BaseModel):
    name: str
    email: str | None
    mobile: str | None
    portal_state: str = Field(description="Stand des Kunden-Portals: post, eingeladen, aktiv …")
    portal_state_label: str


class EvbOut(BaseModel):
    code: str
    valid_until: date
    vehicle: str
    revoked: bool


class ContractOut(BaseModel):
    customer_id: str | None = Field(default=None, description="der Kunde: GET /customers/{id}")
    number: str
    product: Literal["kfz", "rs"]
    tariff_version: str
    start_date: date
    ends_on: date | None
    delivery: Literal["portal", "post"]
    frequency: str
    total: str
    annual_total: str
    customer: CustomerOut
    evb: EvbOut | None = None


class ContractList(BaseModel):
    items: list[ContractOut]
    next: str | None = Field(description="Cursor der nächsten Seite (als ?nach=…), null am Ende")


class DeliveryOut(BaseModel):
    id: str = Field(description="die Dokument-Id: GET /documents/{id}, POST /deliveries/{id}/ack")
    kind: str
    kind_label: str
    title: str
    filename: str
    size: int
    sha256: str
    created_at: datetime
    contract_number: str | None
    customer_name: str
    document: str = Field(description="Pfad zum PDF")


class DeliveryList(BaseModel):
    items: list[DeliveryOut]
    cursor: str | None = Field(description="als ?since=… für die nächste Seite; null: keine weiteren")


class WebhookRequest(Strict):
    url: str = Field(max_length=254, examples=["https://mvp.example/hooks/vermittlerrechner"])
    events: list[
        Literal[
            "application.decided", "contract.policed", "document.added", "evb.issued", "evb.revoked", "claim.reported"
        ]
    ] = Field(min_length=1)


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    created_at: datetime
    secret: str | None = Field(default=None, description="nur bei der Anlage: der Schlüssel der Signaturen (whsec_…)")


class WebhookList(BaseModel):
    items: list[WebhookOut]


class DeliveriesQuery(Strict):
    since: str | None = Field(default=None, max_length=200, description="Cursor aus der letzten Antwort")
    limit: int = Field(default=100, ge=1, le=500)


class ContractsQuery(Strict):
    nach: str | None = Field(default=None, max_length=200, description="Cursor aus der letzten Antwort")
    limit: int = Field(default=50, ge=1, le=200)


class IdempotencyHeaders(BaseModel):
    idempotency_key: str = Field(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="frei gewählt, je Antrag einmal",
    )


class ContractSummary(BaseModel):
    number: str
    product: Literal["kfz", "rs"]
    start_date: date
    ends_on: date | None
    delivery: Literal["portal", "post"]
    portal_state: str
    portal_state_label: str


class CustomerRecordOut(BaseModel):
    id: str
    salutation: str
    first_name: str
    last_name: str
    birth_date: date | None
    street: str
    plz: str
    city: str
    email: str | None
    mobile: str | None
    contracts: list[ContractSummary]


class PlaceOut(BaseModel):
    id: str = Field(description="als Antwort `ort` in den Angaben")
    place: str
    district: str


class PlaceList(BaseModel):
    items: list[PlaceOut]


class VariantChanges(Strict):
    """What a variant changes (as in the page's comparison): Kfz cover, deductibles, Rabattschutz;
    Rechtsschutz Bausteine and deductible."""

    kfz_deckung: str | None = None
    sb_tk: str | None = None
    sb_vk: str | None = None
    rabattschutz: bool | None = None
    bausteine: list[str] | None = None
    selbstbeteiligung: str | None = None


class VariantsRequest(Strict):
    variants: list[VariantChanges] = Field(min_length=1, max_length=3)
    choose: int | None = Field(
        default=None, ge=1, le=3, description="diese Variante als eigenes Angebot speichern (für den Antrag)"
    )


class VariantOut(BaseModel):
    title: str
    changes: dict[str, list[str]]
    premium: Premium | None
    problem: str | None = Field(description="warum der Tarif diese Variante nicht berechnen kann")


class VariantsOut(BaseModel):
    columns: list[VariantOut] = Field(description="das Angebot, dann die Varianten")
    chosen_offer: OfferOut | None = None
