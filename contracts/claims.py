"""Claims (Schadenmeldungen): reported by the customer in the portal, with photos and PDFs whose type
is decided by their content (never by the name); a Schadennummer, a confirmation document in the
portal and an e-mail; seen by the broker on the contract and by the back office, who marks them as
handled. Kfz claims count at the renewal: Haftpflicht moves SF KH, Vollkasko SF VK."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from calculator.tariffs import Product, RsModule, TariffCatalog
from calculator.tariffs.terms import NO_WAITING, ClaimEvent
from contracts.documents import Planned, issue_documents
from contracts.lifecycle import months_before
from contracts.models import Claim, ClaimFile, ClaimKind, ClaimStatus, Contract, DocumentKind
from contracts.signals import claim_reported
from core import audit, clock, paging, storage
from core.downloads import safe_filename
from core.formatting import TIMEZONE, date_de
from core.users import User
from messaging import outbox

# what a claim's uploads may be, told by their first bytes
SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "png"),
    (b"%PDF-", 0, "application/pdf", "pdf"),
)
HEIC_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1")


class ClaimError(ValueError):
    """German message for the form field `field` (None: the whole form)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field


@dataclass(frozen=True)
class UploadLimits:
    max_files: int
    max_bytes: int  # per file


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


@dataclass(frozen=True)
class ClaimReport:
    kind: ClaimKind
    occurred_on: date
    place: str
    description: str
    other_party: str | None = None
    police: bool | None = None
    event: ClaimEvent | None = None  # "Was ist passiert?" in the customer's words (kind follows from it)


# photos a browser shows as they are (HEIC is offered as a download)
VIEWABLE_IMAGES = ("image/jpeg", "image/png")


def sniff(data: bytes) -> tuple[str, str] | None:
    """(content type, extension) of a JPEG, PNG, HEIC or PDF by its content; None for anything else."""
    for magic, offset, content_type, extension in SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return content_type, extension
    if data[4:8] == b"ftyp" and data[8:12] in HEIC_BRANDS:
        return "image/heic", "heic"
    return None


def kinds_for(contract: Contract) -> list[ClaimKind]:
    if contract.product != "kfz":
        return [ClaimKind.RS]
    cover = (contract.risk or {}).get("cover", "kh_vk")
    kinds = [ClaimKind.KH]
    if cover in ("kh_tk", "kh_vk"):
        kinds.append(ClaimKind.TK)
    if cover == "kh_vk":
        kinds.append(ClaimKind.VK)
    return kinds


def events_for(contract: Contract, catalog: Any, today: date) -> list[ClaimEvent]:
    """What the customer can report for this contract, in his words: the claim events of its tariff
    (of the product's current tariff for an imported contract) whose cover the contract has (Kfz: its
    Haftpflicht/Teilkasko/Vollkasko; Rechtsschutz: its Bausteine)."""
    try:
        tariff = catalog.get(contract.tariff_version)
    except KeyError:
        tariff = catalog.current(Product(contract.product), today)
    events: tuple[ClaimEvent, ...] = getattr(tariff, "claim_events", ())
    if contract.product == "kfz":
        kinds = {k.value for k in kinds_for(contract)}
        return [e for e in events if e.kind in kinds]
    booked = set((contract.risk or {}).get("modules", [])) or {m.value for m in RsModule}  # imported: all
    return [e for e in events if e.module in (None, NO_WAITING) or e.module in booked]


def check_uploads(uploads: list[Upload], limits: UploadLimits) -> list[tuple[Upload, str, str]]:
    """Every upload with its type; ClaimError (field "dateien") for too many, empty, too big or of
    a type we do not take — whatever its name says."""
    chosen = [u for u in uploads if u.filename or u.data]
    if len(chosen) > limits.max_files:
        raise ClaimError(f"Bitte höchstens {limits.max_files} Dateien anhängen.", "dateien")
    checked = []
    megabytes = limits.max_bytes // (1024 * 1024)
    for upload in chosen:
        name = safe_filename(upload.filename or "Datei")
        if not upload.data:
            raise ClaimError(f"Die Datei „{name}“ ist leer.", "dateien")
        if len(upload.data) > limits.max_bytes:
            raise ClaimError(f"Die Datei „{name}“ ist größer als {megabytes} MB.", "dateien")
        kind = sniff(upload.data)
        if kind is None:
            raise ClaimError(
                f"Die Datei „{name}“ ist kein Foto (JPEG, PNG, HEIC) und kein PDF. Bitte nur solche Dateien anhängen.",
                "dateien",
            )
        checked.append((upload, *kind))
    return checked


def report_claim(
    session: so.Session,
    contract: Contract,
    report: ClaimReport,
    uploads: list[Upload],
    *,
    limits: UploadLimits,
    today: date,
    reporter: str,
    catalog: TariffCatalog,
    pdf_workers: int | None = None,
) -> Claim:
    """Check everything first (nothing is stored half), then the claim with its files, its
    Schadennummer, the confirmation in the portal and by e-mail."""
    if report.kind not in kinds_for(contract) or (report.event is not None and report.event.kind != report.kind.value):
        raise ClaimError("Bitte wählen Sie, was passiert ist.", "art")
    if report.occurred_on > today:
        raise ClaimError("Das Schadendatum liegt in der Zukunft.", "datum")
    if report.occurred_on < contract.start_date:
        raise ClaimError(
            f"Der Schaden liegt vor dem Vertragsbeginn am {date_de(contract.start_date)}; dafür besteht kein "
            "Versicherungsschutz aus diesem Vertrag.",
            "datum",
        )
    if contract.ends_on is not None and report.occurred_on >= contract.ends_on:
        raise ClaimError(f"Der Vertrag endete am {date_de(contract.ends_on)}.", "datum")
    place, description = " ".join(report.place.split()), report.description.strip()
    if not place:
        raise ClaimError("Bitte geben Sie an, wo der Schaden passiert ist.", "ort")
    if len(description) < 10:
        raise ClaimError("Bitte beschreiben Sie in einigen Worten, was passiert ist.", "beschreibung")
    checked = check_uploads(uploads, limits)

    claim = Claim(
        contract_id=contract.id,
        agency_id=contract.agency_id,
        owner_id=contract.owner_id,
        kind=report.kind,
        event=report.event.key if report.event else None,
        event_label=report.event.label if report.event else None,
        benefit=report.event.benefit if report.event else None,
        occurred_on=report.occurred_on,
        place=place[:200],
        description=description[:5000],
        other_party=(report.other_party or "").strip()[:2000] or None,
        police=report.police,
    )
    session.add(claim)
    session.flush()
    claim.number = f"SN-{clock.now().astimezone(TIMEZONE).year}-{claim.id:07d}"
    for upload, content_type, extension in checked:
        key, digest = storage.store(session, upload.data)
        session.add(
            ClaimFile(
                claim_id=claim.id,
                filename=safe_filename(upload.filename, extension),  # the extension of what it is
                content_type=content_type,
                storage_key=key,
                sha256=digest,
                size=len(upload.data),
            )
        )
    session.flush()
    session.refresh(claim, attribute_names=["files"])
    title = f"Schadenmeldung {claim.number}"
    issue_documents(
        session,
        [(contract, [Planned(DocumentKind.CLAIM, title, {"claim": claim})])],
        catalog=catalog,
        workers=pdf_workers,
        announce=False,  # the confirmation e-mail below says it; no second "Neue Dokumente" e-mail
    )
    if contract.customer_email:
        outbox.enqueue_email(
            session,
            key=f"claim-received:{claim.public_id}",
            to=contract.customer_email,
            subject=f"Ihre Schadenmeldung {claim.number} ist eingegangen",
            template="claim_received",
            context={"claim": claim, "contract": contract},
            related=("contract", contract.public_id),
            agency_id=contract.agency_id,
        )
    audit.record(
        session,
        "claim_reported",
        actor_label=reporter,
        agency_id=contract.agency_id,
        object_type="contract",
        object_id=contract.public_id,
        details={"claim": claim.number, "kind": claim.kind.value, "event": claim.event, "files": len(checked)},
    )
    claim_reported.send(claim, session=session, contract=contract)
    return claim


def mark_handled(session: so.Session, user: User, public_ids: list[str]) -> int:
    """The back office's "als bearbeitet markieren": one guarded UPDATE (a colleague's click at the
    same moment does not count twice)."""
    if not public_ids:
        return 0
    done = session.execute(
        sa.update(Claim)
        .where(Claim.public_id.in_(public_ids), Claim.handled_at.is_(None))
        .values(
            handled_at=clock.now(),
            handled_by_id=user.id,
            status=ClaimStatus.IN_PROGRESS,  # an open claim is "gemeldet": the status moves with it
        )
        .returning(Claim.number, Claim.agency_id)
    ).all()
    for number, agency_id in done:
        audit.record(session, "claim_handled", actor=user, agency_id=agency_id, object_type="claim", object_id=number)
    return len(done)


def claims_page(
    session: so.Session,
    *,
    open_only: bool = False,
    status: ClaimStatus | None = None,
    reported_before: datetime | None = None,
    page: int,
    size: int,
) -> paging.Page[Claim]:
    """Schadenmeldungen newest first: only open ones (not yet taken into work), one status, or those
    reported before a moment (the back office's "vor mehr als … Tagen")."""
    stmt = sa.select(Claim).options(so.selectinload(Claim.contract), so.selectinload(Claim.files))
    if open_only:
        stmt = stmt.where(Claim.handled_at.is_(None))
    if status is not None:
        stmt = stmt.where(Claim.status == status)
    if reported_before is not None:
        stmt = stmt.where(Claim.reported_at < reported_before)
    return paging.paginate(session, stmt.order_by(Claim.reported_at.desc(), Claim.id.desc()), page, size)


def claims_of(session: so.Session, contract: Contract) -> list[Claim]:
    return list(
        session.scalars(
            sa.select(Claim).where(Claim.contract_id == contract.id).order_by(Claim.occurred_on.desc(), Claim.id.desc())
        )
    )


def waiting_until(claim: Claim, catalog: Any) -> date | None:
    """For a Rechtsschutz claim that occurred within the Wartezeit (ARB, tariff data) of the Baustein
    its event falls under (else of the booked modules): the day the Wartezeit ended — the back office
    checks such a claim; else None."""
    contract = claim.contract
    if claim.kind is not ClaimKind.RS or not contract.risk:
        return None
    try:
        tariff = catalog.get(contract.tariff_version)
    except KeyError:
        return None
    event = next((e for e in getattr(tariff, "claim_events", ()) if e.key == claim.event), None)
    if event is not None and event.module == NO_WAITING:
        return None  # e.g. Schadenersatz-Rechtsschutz: no Wartezeit (ARB)
    if event is not None and event.module is not None:  # the Baustein that covers what happened
        months = tariff.waiting_months_for({RsModule(event.module)})
    else:
        months = tariff.waiting_months_for({RsModule(m) for m in contract.risk.get("modules", [])})
    if not months:
        return None
    ends = months_before(contract.start_date, -months)
    return ends if claim.occurred_on < ends else None


def counted_claims(session: so.Session, contract: Contract, begin: date, end: date) -> tuple[int, int]:
    """(KH, VK) claims that occurred in [begin, end) and count for the Rückstufung: only claims the
    insurer paid (AKB, SF system: "reguliert mit Zahlung") and the customer did not buy back."""
    rows: Any = session.execute(
        sa.select(Claim.kind, sa.func.count())
        .where(
            Claim.contract_id == contract.id,
            Claim.occurred_on >= begin,
            Claim.occurred_on < end,
            Claim.status == ClaimStatus.PAID,
            Claim.repaid_on.is_(None),
        )
        .group_by(Claim.kind)
    ).all()
    counts = {kind: n for kind, n in rows}
    return counts.get(ClaimKind.KH, 0), counts.get(ClaimKind.VK, 0)
