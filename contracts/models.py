"""Applications (Anträge), contracts (Verträge) and their documents."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from calculator.models import Offer
from core import clock
from core.contact import PostalAddress
from core.db import Base, new_public_id
from core.formatting import addressee
from core.users import User


class Delivery(enum.StrEnum):
    PORTAL = "portal"
    POST = "post"

    @property
    def label(self) -> str:
        return {"portal": "ausschließlich online im Kunden-Portal", "post": "per Post"}[self.value]


class Occasion(enum.StrEnum):
    """Why a Kfz contract is taken out (the eVB depends on it: seed 001)."""

    NEW_REGISTRATION = "neuzulassung"
    NEW_KEEPER = "halterwechsel"
    NEW_INSURER = "versichererwechsel"

    @property
    def label(self) -> str:
        return {
            "neuzulassung": "Neuzulassung",
            "halterwechsel": "Halterwechsel (Umschreibung)",
            "versichererwechsel": "Versichererwechsel (Fahrzeug bleibt zugelassen)",
        }[self.value]

    @property
    def needs_evb(self) -> bool:
        """An eVB is for the registration office: a new registration or a new keeper, not a mere
        change of insurer (the vehicle stays registered; the new insurer reports it itself)."""
        return self is not Occasion.NEW_INSURER


class ApplicationState(enum.StrEnum):
    REFERRED = "referred"  # waiting for Risikoprüfung
    DECLINED = "declined"
    POLICED = "policed"

    @property
    def label(self) -> str:
        return {"referred": "in Risikoprüfung", "declined": "abgelehnt", "policed": "policiert"}[self.value]


class Application(Base):
    """An online application for an offer; one per offer (a double submit finds the first)."""

    __tablename__ = "applications"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    offer_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("offers.id"), unique=True)
    agency_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("agencies.id"), index=True)
    owner_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id"), index=True)
    state: so.Mapped[ApplicationState] = so.mapped_column()
    start_date: so.Mapped[date]
    account_holder: so.Mapped[str] = so.mapped_column(sa.String(140))
    iban: so.Mapped[str] = so.mapped_column(sa.String(34))
    bic: so.Mapped[str | None] = so.mapped_column(sa.String(11))
    mandate_reference: so.Mapped[str] = so.mapped_column(sa.String(35), unique=True)
    mandate_accepted_at: so.Mapped[datetime]
    delivery: so.Mapped[Delivery]
    customer_email: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    customer_mobile: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    referral_reasons: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    # before the Antrag (issue #24): the Vertragsinformationen handed over (§ 7 VVG), the separate
    # notice of § 19 Abs. 5 VVG confirmed; for Kfz the occasion, the FIN and the Kennzeichen
    contract_info_given_on: so.Mapped[date | None]
    notice_19_confirmed_at: so.Mapped[datetime | None]
    occasion: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    vin: so.Mapped[str | None] = so.mapped_column(sa.String(17))
    plate: so.Mapped[str | None] = so.mapped_column(sa.String(15))
    # the Beratungsdokumentation (§§ 61, 62 VVG): wishes, advice, reasons — or the waiver
    advice: so.Mapped[dict[str, Any] | None] = so.mapped_column(sa.JSON)
    decided_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    decided_at: so.Mapped[datetime | None]
    decline_reason: so.Mapped[str | None] = so.mapped_column(sa.Text)
    submitted_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)

    offer: so.Mapped[Offer] = so.relationship()
    owner: so.Mapped[User] = so.relationship(foreign_keys=[owner_id])
    contract: so.Mapped[Contract | None] = so.relationship(back_populates="application")
    questions: so.Mapped[list[ApplicationQuestion]] = so.relationship(
        back_populates="application", order_by="ApplicationQuestion.id"
    )

    @property
    def open_question(self) -> ApplicationQuestion | None:
        """The back office's Rückfrage the broker has not answered yet (the application waits)."""
        return next((q for q in self.questions if q.answered_at is None), None)


class ApplicationQuestion(Base):
    """A Rückfrage of the Risikoprüfung to the broker (issue #26 item 21): the application waits in
    the queue; his answer shows on the application for the underwriter."""

    __tablename__ = "application_questions"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    application_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("applications.id"), index=True)
    question: so.Mapped[str] = so.mapped_column(sa.Text)
    asked_by_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id"))
    asked_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    answer: so.Mapped[str | None] = so.mapped_column(sa.Text)
    answered_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    answered_at: so.Mapped[datetime | None]

    application: so.Mapped[Application] = so.relationship(back_populates="questions")
    asked_by: so.Mapped[User] = so.relationship(foreign_keys=[asked_by_id])
    answered_by: so.Mapped[User | None] = so.relationship(foreign_keys=[answered_by_id])


class Contract(Base):
    """A policed contract. Vertragsnummer: VR-<year>-<7-digit serial>-<check digit> (see contracts.numbers)."""

    __tablename__ = "contracts"
    __table_args__ = (
        sa.Index("ix_contracts_stock_state", "agency_id", "onboarding_state", "number"),
        # the worker's scan for invitations that expired unused (before every claim)
        sa.Index("ix_contracts_onboarding_expiry", "onboarding_state", "onboarding_expires_at"),
        # agency.share and agency.funnel: the stock per month and the share per broker read only this index; the
        # few ended contracts (their end closes a digital interval) have their own
        sa.Index(
            "ix_contracts_dashboard", "agency_id", "owner_id", "policed_at", "ends_on", "delivery", "onboarding_state"
        ),
        sa.Index(
            "ix_contracts_ended",
            "agency_id",
            "public_id",
            "ends_on",
            sqlite_where=sa.text("ends_on IS NOT NULL"),
            postgresql_where=sa.text("ends_on IS NOT NULL"),
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    number: so.Mapped[str | None] = so.mapped_column(sa.String(20), unique=True)
    application_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("applications.id"), unique=True)
    agency_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("agencies.id"), index=True)
    owner_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id"), index=True)
    product: so.Mapped[str] = so.mapped_column(sa.String(10))
    tariff_version: so.Mapped[str] = so.mapped_column(sa.String(40))
    customer_name: so.Mapped[str] = so.mapped_column(sa.String(250))
    customer: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)  # salutation, names, birth date, address
    customer_email: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    customer_mobile: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    delivery: so.Mapped[Delivery]
    start_date: so.Mapped[date]
    frequency: so.Mapped[str] = so.mapped_column(sa.String(20))
    total: so.Mapped[Decimal] = so.mapped_column(sa.Numeric(12, 2))
    annual_total: so.Mapped[Decimal] = so.mapped_column(sa.Numeric(12, 2))
    premium: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    iban: so.Mapped[str | None] = so.mapped_column(sa.String(34))
    mandate_reference: so.Mapped[str | None] = so.mapped_column(sa.String(35))
    client_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("clients.id"), index=True)  # the Kunde
    # the customer's portal account, once onboarding started (issue #6)
    customer_account_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("customers.id"), index=True)
    # where the portal onboarding stands, kept current by onboarding's events (so lists filter and
    # count it in SQL): "post", "link_sent", "code_sent", "active"; with the open link's expiry
    onboarding_state: so.Mapped[str] = so.mapped_column(sa.String(20), default="post", server_default="post")
    onboarding_expires_at: so.Mapped[datetime | None]
    policed_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    # the contract's own risk (issue #14): the calculator's answers and priced risk, kept current by
    # changes and renewals (None for imported contracts: they come without tariff data)
    answers: so.Mapped[dict[str, list[str]] | None] = so.mapped_column(sa.JSON)
    risk: so.Mapped[dict[str, Any] | None] = so.mapped_column(sa.JSON)
    account_holder: so.Mapped[str | None] = so.mapped_column(sa.String(140))
    # the next Hauptfälligkeit (renewal date) and the end of a cancelled contract
    main_due: so.Mapped[date | None] = so.mapped_column(index=True)
    ends_on: so.Mapped[date | None]
    end_reason: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # optimistic check: a change form carries the version it was filled in on
    version: so.Mapped[int] = so.mapped_column(default=1, server_default="1")
    # SF-Klassen taken over from a prior insurer: provisional until confirmed (contracts.einstufung)
    sf_confirmation: so.Mapped[str | None] = so.mapped_column(sa.String(12), index=True)
    sf_confirm_by: so.Mapped[date | None]

    application: so.Mapped[Application | None] = so.relationship(back_populates="contract")
    owner: so.Mapped[User] = so.relationship()
    documents: so.Mapped[list[Document]] = so.relationship(back_populates="contract", order_by="Document.id")
    evb: so.Mapped[Evb | None] = so.relationship(back_populates="contract", uselist=False)
    versions: so.Mapped[list[ContractVersion]] = so.relationship(
        back_populates="contract", order_by="ContractVersion.seq"
    )

    def postal_address(self) -> PostalAddress:
        """The customer's address for letters: "Herrn Jürgen Müller" on the first line (DIN 5008)."""
        c = self.customer
        name = addressee(c.get("salutation"), f"{c.get('first_name', '')} {c.get('last_name', '')}")
        return PostalAddress(name, c.get("street", ""), c.get("plz", ""), c.get("city", ""))


class VersionKind(enum.StrEnum):
    POLICED = "policed"  # the contract as policed (or imported), version 0
    CHANGE = "change"  # a Nachtrag
    CANCELLATION = "cancellation"  # Kündigung or end by sale/de-registration (also a Nachtrag)
    RENEWAL = "renewal"  # the yearly renewal at the Hauptfälligkeit
    WITHDRAWAL = "withdrawal"  # Rücknahme of a Kündigung before it took effect (also a Nachtrag)

    @property
    def label(self) -> str:
        return {
            "policed": "Vertragsbeginn",
            "change": "Vertragsänderung",
            "cancellation": "Kündigung",
            "renewal": "Verlängerung (Hauptfälligkeit)",
            "withdrawal": "Rücknahme der Kündigung",
        }[self.value]


class ContractVersion(Base):
    """The contract's data from an effective date on. The contract row holds the newest version;
    these rows are the history (the contract at any date) and what each change changed."""

    __tablename__ = "contract_versions"
    __table_args__ = (
        sa.UniqueConstraint("contract_id", "seq", name="uq_contract_versions_seq"),
        # a renewal happens once per contract and Hauptfälligkeit, whoever runs it
        sa.UniqueConstraint("contract_id", "renewal_due", name="uq_contract_versions_renewal_due"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    contract_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("contracts.id"))
    seq: so.Mapped[int]  # 0, 1, 2 … per contract
    kind: so.Mapped[VersionKind]
    endorsement_no: so.Mapped[int | None]  # "Nachtrag Nr. n" for changes and the Kündigung
    effective_date: so.Mapped[date]
    renewal_due: so.Mapped[date | None]
    run_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("renewal_runs.id"), index=True)
    data: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)  # the contract's fields from then on
    # what changed: [{"label", "old", "new"}]; the pro-rata premium difference (+ due, − refund)
    changes: so.Mapped[list[dict[str, str]]] = so.mapped_column(sa.JSON, default=list)
    premium_delta: so.Mapped[Decimal | None] = so.mapped_column(sa.Numeric(12, 2))
    actor_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    actor_label: so.Mapped[str | None] = so.mapped_column(sa.String(100))  # who, when not staff (the customer)
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)

    contract: so.Mapped[Contract] = so.relationship(back_populates="versions")
    actor: so.Mapped[User | None] = so.relationship()


class RenewalRun(Base):
    """The yearly renewal for one Hauptfälligkeit (started by the back office or `flask contracts
    renew`); the worker's job renews the contracts, failures are kept for the report."""

    __tablename__ = "renewal_runs"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    due: so.Mapped[date] = so.mapped_column(unique=True)
    total: so.Mapped[int] = so.mapped_column(default=0)  # contracts due when (last) started
    failures: so.Mapped[list[dict[str, str]]] = so.mapped_column(sa.JSON, default=list)
    started_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    started_label: so.Mapped[str] = so.mapped_column(sa.String(100), default="")
    starts: so.Mapped[int] = so.mapped_column(default=0)
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    finished_at: so.Mapped[datetime | None]


class RenewalPreview(Base):
    """The Probelauf of a renewal (issue #26 item 25): every contract due renewed in a savepoint that
    is rolled back — how many premiums rise, fall or stay, the biggest changes, the failures to
    expect — before the back office says "Jetzt durchführen". Run by the worker in steps; its cursor
    moves with each committed step, so a killed worker's step is redone, never counted twice."""

    __tablename__ = "renewal_previews"
    __table_args__ = (
        # one Probelauf at a time per due date: two clerks starting it at once get one (contracts.renewal)
        sa.Index(
            "ux_renewal_previews_running",
            "due",
            unique=True,
            sqlite_where=sa.text("finished_at IS NULL"),
            postgresql_where=sa.text("finished_at IS NULL"),
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    due: so.Mapped[date] = so.mapped_column(index=True)
    total: so.Mapped[int] = so.mapped_column(default=0)  # contracts due when it was started
    cursor: so.Mapped[int] = so.mapped_column(default=0)  # the last contract id looked at
    processed: so.Mapped[int] = so.mapped_column(default=0)
    rises: so.Mapped[int] = so.mapped_column(default=0)
    falls: so.Mapped[int] = so.mapped_column(default=0)
    stays: so.Mapped[int] = so.mapped_column(default=0)
    # the biggest changes of the annual premium: number, name, old, new (as strings of Decimal)
    biggest: so.Mapped[list[dict[str, str]]] = so.mapped_column(sa.JSON, default=list)
    failures: so.Mapped[list[dict[str, str]]] = so.mapped_column(sa.JSON, default=list)
    started_label: so.Mapped[str] = so.mapped_column(sa.String(100), default="")
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    finished_at: so.Mapped[datetime | None]


class ClaimKind(enum.StrEnum):
    """What kind of claim; for Kfz it decides which SF-Klasse it moves at the renewal."""

    KH = "haftpflicht"  # damage to others: Kfz-Haftpflicht (moves SF KH)
    VK = "vollkasko"  # own vehicle, caused by oneself (moves SF VK)
    TK = "teilkasko"  # glass, theft, game, storm: no Rückstufung
    RS = "rechtsschutz"

    @property
    def label(self) -> str:
        return {
            "haftpflicht": "Haftpflichtschaden (Schaden bei anderen)",
            "vollkasko": "Vollkaskoschaden (eigenes Fahrzeug, selbst verursacht)",
            "teilkasko": "Teilkaskoschaden (Glas, Diebstahl, Wild, Unwetter)",
            "rechtsschutz": "Rechtsschutzfall",
        }[self.value]


class ClaimStatus(enum.StrEnum):
    """Where a claim stands, set by the back office. Only a claim settled with a payment (and not
    bought back) counts for the Rückstufung (AKB, SF system)."""

    REPORTED = "gemeldet"
    IN_PROGRESS = "in_bearbeitung"
    PAID = "reguliert_zahlung"
    SETTLED_WITHOUT_PAYMENT = "reguliert_ohne"
    DECLINED = "abgelehnt"

    @property
    def label(self) -> str:
        return {
            "gemeldet": "gemeldet",
            "in_bearbeitung": "in Bearbeitung",
            "reguliert_zahlung": "reguliert (mit Zahlung)",
            "reguliert_ohne": "reguliert (ohne Zahlung)",
            "abgelehnt": "abgelehnt",
        }[self.value]

    @property
    def settled(self) -> bool:
        """Decided: paid, settled without payment or declined (a Sonderkündigung may follow)."""
        return self in (ClaimStatus.PAID, ClaimStatus.SETTLED_WITHOUT_PAYMENT, ClaimStatus.DECLINED)


class Claim(Base):
    """A claim notification (Schadenmeldung) a customer sent from the portal."""

    __tablename__ = "claims"
    __table_args__ = (sa.Index("ix_claims_contract_occurred", "contract_id", "occurred_on"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    number: so.Mapped[str | None] = so.mapped_column(sa.String(20), unique=True)  # Schadennummer
    contract_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("contracts.id"))
    agency_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("agencies.id"), index=True)
    owner_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id"))
    kind: so.Mapped[ClaimKind]
    # "Was ist passiert?" as the customer chose it (the tariff's claim event) and the Leistungsart it
    # maps to; None for claims reported before the events (their kind says it)
    event: so.Mapped[str | None] = so.mapped_column(sa.String(40))
    event_label: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    benefit: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    occurred_on: so.Mapped[date]
    place: so.Mapped[str] = so.mapped_column(sa.String(200))
    description: so.Mapped[str] = so.mapped_column(sa.Text)
    other_party: so.Mapped[str | None] = so.mapped_column(sa.Text)
    police: so.Mapped[bool | None]
    reported_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    handled_at: so.Mapped[datetime | None] = so.mapped_column(index=True)
    handled_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    status: so.Mapped[ClaimStatus] = so.mapped_column(default=ClaimStatus.REPORTED, server_default="gemeldet")
    paid_amount: so.Mapped[Decimal | None] = so.mapped_column(sa.Numeric(12, 2))
    settled_on: so.Mapped[date | None]  # the day it was paid, settled or declined
    status_note: so.Mapped[str | None] = so.mapped_column(sa.Text)  # e.g. why it was declined
    repaid_on: so.Mapped[date | None]  # Schadenrückkauf: the customer repaid the amount

    contract: so.Mapped[Contract] = so.relationship()
    files: so.Mapped[list[ClaimFile]] = so.relationship(back_populates="claim", order_by="ClaimFile.id")

    @property
    def what(self) -> str:
        """What happened in the customer's words with the cover it falls under ("Glasbruch … –
        Teilkasko"); the kind's label for claims reported before the events."""
        if self.event_label:
            return f"{self.event_label} – {self.benefit}" if self.benefit else self.event_label
        return self.kind.label


class ClaimFile(Base):
    """An upload of a claim (photo or PDF), its type decided by its content."""

    __tablename__ = "claim_files"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    claim_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("claims.id"), index=True)
    filename: so.Mapped[str] = so.mapped_column(sa.String(200))
    content_type: so.Mapped[str] = so.mapped_column(sa.String(50))
    storage_key: so.Mapped[str] = so.mapped_column(sa.String(64))
    sha256: so.Mapped[str] = so.mapped_column(sa.String(64))
    size: so.Mapped[int]

    claim: so.Mapped[Claim] = so.relationship(back_populates="files")


class DocumentKind(enum.StrEnum):
    POLICY = "versicherungsschein"
    INVOICE = "rechnung"
    ENDORSEMENT = "nachtrag"
    CANCELLATION = "kuendigung"
    CLAIM = "schadenmeldung"
    NOTICE = "mitteilung"  # the confirmation of a change the customer made in the portal
    CLAIM_STATUS = "schadenstand"  # a claim's new status (Schadenmitteilung)
    APPLICATION = "antrag"  # the Antrag as submitted: every question with its answer, the notices
    CONTRACT_INFO = "vertragsinfo"  # Vertragsinformationen: AVB, IPID, Verbraucherinformationen (§ 7 VVG)
    PREMIUM_NOTICE = "beitragsmitteilung"  # a tariff-driven increase announced (§ 40 VVG)
    ADVICE = "beratung"  # the Beratungsdokumentation or the Beratungsverzicht (§§ 61, 62 VVG)

    @property
    def label(self) -> str:
        return {
            "versicherungsschein": "V.-Schein",
            "rechnung": "Rechnung",
            "nachtrag": "Nachtrag",
            "kuendigung": "Kündigungsbestätigung",
            "schadenmeldung": "Schadenmeldung",
            "mitteilung": "Mitteilung",
            "schadenstand": "Schadenmitteilung",
            "antrag": "Antrag",
            "vertragsinfo": "Vertragsinformation",
            "beitragsmitteilung": "Beitragsmitteilung",
            "beratung": "Beratungsdokumentation",
        }[self.value]

    @property
    def on_paper_by_law(self) -> bool:
        """Documents the customer must get on paper (the broker-folder seed): by post *and* into
        the portal, whatever the contract's delivery."""
        return self is DocumentKind.CANCELLATION


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        # the API's deliveries: a scope's documents in id order (an agency; a broker's own)
        sa.Index("ix_documents_agency_id_id", "agency_id", "id"),
        sa.Index("ix_documents_owner_id_id", "owner_id", "id"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    contract_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("contracts.id"), index=True)
    agency_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("agencies.id"))
    owner_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id"))
    kind: so.Mapped[DocumentKind]
    title: so.Mapped[str] = so.mapped_column(sa.String(200))
    filename: so.Mapped[str] = so.mapped_column(sa.String(200))
    storage_key: so.Mapped[str] = so.mapped_column(sa.String(64))
    sha256: so.Mapped[str] = so.mapped_column(sa.String(64))
    size: so.Mapped[int]
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    read_at: so.Mapped[datetime | None]  # opened by the customer in the portal (issue #6)

    contract: so.Mapped[Contract] = so.relationship(back_populates="documents")


class Evb(Base):
    """An eVB-Nummer (elektronische Versicherungsbestätigung) for the registration office, issued
    for a Kfz contract on its Antrag (contracts.evb)."""

    __tablename__ = "evbs"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    code: so.Mapped[str] = so.mapped_column(sa.String(7), unique=True)
    contract_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("contracts.id"), unique=True)
    agency_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("agencies.id"), index=True)
    owner_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id"))
    hsn: so.Mapped[str] = so.mapped_column(sa.String(4))
    tsn: so.Mapped[str] = so.mapped_column(sa.String(3))
    vehicle: so.Mapped[str] = so.mapped_column(sa.String(200))
    issued_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    valid_until: so.Mapped[date]
    revoked_at: so.Mapped[datetime | None]
    revoked_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    revoke_reason: so.Mapped[str | None] = so.mapped_column(sa.String(500))

    contract: so.Mapped[Contract] = so.relationship(back_populates="evb")

    def status(self, today: date) -> str:
        if self.revoked_at is not None:
            return "widerrufen"
        return "abgelaufen" if self.valid_until < today else "gültig"


class ContactMessage(Base):
    """ "Kontakt" (issue #29 item 8, seeds 000 and 004): a customer's message about one of his contracts
    to his broker and the back office, and every answer — his Kontakthistorie, in time order. A
    customer's message is open until answered; an answer is unread until the customer has seen it."""

    __tablename__ = "contact_messages"
    __table_args__ = (sa.Index("ix_contact_messages_open", "from_customer", "answered_at", "agency_id", "owner_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    contract_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("contracts.id"), index=True)
    agency_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("agencies.id"))
    owner_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id"))
    # an answer: the customer's message it answers
    answers_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("contact_messages.id"))
    from_customer: so.Mapped[bool]
    author_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))  # staff who answered
    author_label: so.Mapped[str] = so.mapped_column(sa.String(250))
    subject: so.Mapped[str] = so.mapped_column(sa.String(30))
    body: so.Mapped[str] = so.mapped_column(sa.Text)
    attachment_name: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    attachment_type: so.Mapped[str | None] = so.mapped_column(sa.String(50))
    attachment_key: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    attachment_size: so.Mapped[int | None]
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now, index=True)
    answered_at: so.Mapped[datetime | None]  # a customer's message: when it was answered first
    read_at: so.Mapped[datetime | None]  # an answer: when the customer saw it

    contract: so.Mapped[Contract] = so.relationship()
