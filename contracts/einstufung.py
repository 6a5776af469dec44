"""The SF-Klassen a Kfz contract takes over from a prior insurer are provisional (motor seed 001):
the back office confirms them with the Vorversicherer's statement, or corrects them — a Nachtrag
with the difference from the start of the insurance year; without a confirmation within the
tariff's days (confirm_days) the worker sets both classes to SF 0, again with a Nachtrag."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import date, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from calculator import quotes
from calculator.tariffs import KfzRisk, KfzTariff, SFClass, TariffCatalog, TariffError
from contracts import lifecycle
from contracts.changes import end_rabattschutz_if_lost
from contracts.documents import issue_documents
from contracts.models import Contract, ContractVersion, VersionKind
from contracts.versions import ChangeError, add_version, contract_terms, endorsement_documents, first_version, lock
from core import audit, clock, paging
from core.formatting import date_de, eur
from core.users import User

PENDING, CONFIRMED, CORRECTED, EXPIRED = "offen", "bestaetigt", "berichtigt", "abgelaufen"
LABELS = {
    PENDING: "Bestätigung des Vorversicherers offen",
    CONFIRMED: "vom Vorversicherer bestätigt",
    CORRECTED: "nach Auskunft des Vorversicherers berichtigt",
    EXPIRED: "ohne Bestätigung auf SF 0 gesetzt",
}


def transferred(answers: dict[str, list[str]]) -> bool:
    """Were the SF-Klassen taken over from a prior insurer (a Vorversicherung and a class that
    stands for a history: anything but 0 and ½)?"""

    def first(name: str) -> str:
        return (answers.get(name) or [""])[0]

    classes = [first("sf_kh"), first("sf_vk")]
    return first("vorversicherung") == "ja" and any(c and c not in ("0", "1/2") for c in classes)


def start_check(contract: Contract, tariff: KfzTariff, today: date) -> None:
    """At policing: a transferred class waits for the Vorversicherer's confirmation."""
    if contract.answers and transferred(contract.answers):
        contract.sf_confirmation = PENDING
        contract.sf_confirm_by = today + timedelta(days=tariff.sf_confirm_days)


def pending_page(session: so.Session, page: int, size: int) -> paging.Page[Contract]:
    stmt = sa.select(Contract).where(Contract.sf_confirmation == PENDING)
    return paging.paginate(session, stmt.order_by(Contract.sf_confirm_by, Contract.id), page, size)


def confirm(
    session: so.Session,
    user: User,
    contract: Contract,
    sf_kh: str,
    sf_vk: str | None,
    *,
    catalog: TariffCatalog,
    today: date,
    pdf_workers: int | None = None,
) -> ContractVersion | None:
    """The Vorversicherer's statement: the classes as confirmed. Equal to the contract's: confirmed;
    else corrected with a Nachtrag (None: nothing to correct)."""
    lock(session, contract, None)
    if contract.sf_confirmation != PENDING:
        raise ChangeError("Die SF-Klassen dieses Vertrags warten auf keine Bestätigung.")
    try:
        kh = SFClass.parse(sf_kh)
        vk = SFClass.parse(sf_vk) if sf_vk else None
    except ValueError:
        raise ChangeError("Bitte wählen Sie die bestätigten SF-Klassen.", "sf_kh") from None
    risk = quotes.risk_from_dict(contract.risk or {})
    assert isinstance(risk, KfzRisk)
    if risk.sf_vk is not None and vk is None:
        raise ChangeError("Bitte wählen Sie auch die bestätigte SF-Klasse der Vollkasko.", "sf_vk")
    if (kh, vk if risk.sf_vk is not None else None) == (risk.sf_kh, risk.sf_vk):
        contract.sf_confirmation = CONFIRMED
        audit.record(
            session,
            "sf_confirmed",
            actor=user,
            agency_id=contract.agency_id,
            object_type="contract",
            object_id=contract.public_id,
            details={"sf_kh": kh.key, "sf_vk": vk.key if vk else None},
        )
        return None
    version = _reclassify(
        session, contract, kh, vk, catalog=catalog, actor=user, label=None, today=today, pdf_workers=pdf_workers
    )
    contract.sf_confirmation = CORRECTED
    return version


def expire(session: so.Session, catalog: TariffCatalog, pdf_workers: int | None = None, limit: int = 20) -> int:
    """Worker task: provisional classes without a confirmation by their day become SF 0 (motor seed
    001), each with a Nachtrag. Rows claimed with SKIP LOCKED: several workers never do one twice."""
    today = clock.today()
    contracts = list(
        session.scalars(
            sa.select(Contract)
            .where(Contract.sf_confirmation == PENDING, Contract.sf_confirm_by < today)
            .order_by(Contract.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for contract in contracts:
        zero = SFClass("0")
        risk = quotes.risk_from_dict(contract.risk or {})
        has_vk = isinstance(risk, KfzRisk) and risk.sf_vk is not None
        with contextlib.suppress(ChangeError):  # an ended contract: nothing to charge any more
            _reclassify(
                session,
                contract,
                zero,
                zero if has_vk else None,
                catalog=catalog,
                actor=None,
                label="Einstufung (ohne Bestätigung)",
                today=today,
                pdf_workers=pdf_workers,
            )
        contract.sf_confirmation = EXPIRED
    session.commit()
    return len(contracts)


def _reclassify(
    session: so.Session,
    contract: Contract,
    sf_kh: SFClass,
    sf_vk: SFClass | None,
    *,
    catalog: TariffCatalog,
    actor: User | None,
    label: str | None,
    today: date,
    pdf_workers: int | None = None,
) -> ContractVersion:
    """New SF-Klassen from the start of the running insurance year: repriced on the contract's
    tariff, the difference charged or refunded pro rata temporis, a Nachtrag that says why."""
    if contract.ends_on is not None and contract.ends_on <= today:
        raise ChangeError(f"Der Vertrag ist zum {date_de(contract.ends_on)} beendet.")
    assert contract.main_due is not None
    tariff = catalog.get(contract.tariff_version)
    assert isinstance(tariff, KfzTariff)
    first_version(session, contract)
    risk = quotes.risk_from_dict(contract.risk or {})
    assert isinstance(risk, KfzRisk)
    changes = [{"label": "SF-Klasse Kfz-Haftpflicht", "old": risk.sf_kh.label, "new": sf_kh.label}]
    if risk.sf_vk is not None and sf_vk is not None:
        changes.append({"label": "SF-Klasse Vollkasko", "old": risk.sf_vk.label, "new": sf_vk.label})
    changes = [c for c in changes if c["old"] != c["new"]]
    new = end_rabattschutz_if_lost(tariff, dataclasses.replace(risk, sf_kh=sf_kh, sf_vk=sf_vk), changes)
    try:
        premium = quotes.price(tariff, new)
    except TariffError as error:
        raise ChangeError(error.message) from None
    old_annual = contract.annual_total
    contract.risk = quotes.risk_to_dict(new)
    if contract.answers is not None:
        sf = {"sf_kh": [sf_kh.key], **({"sf_vk": [sf_vk.key]} if sf_vk is not None else {})}
        contract.answers = {k: v for k, v in {**contract.answers, **sf}.items() if k != "rabattschutz"} | (
            {"rabattschutz": ["y"]} if new.rabattschutz else {}
        )
    contract.total, contract.annual_total, contract.premium = premium.total, premium.annual_total, premium.to_dict()
    changes.append({"label": "Jahresbeitrag", "old": eur(old_annual), "new": eur(contract.annual_total)})
    changes.append({"label": "Grund", "old": "vorläufige Einstufung", "new": label or LABELS[CORRECTED]})
    year = lifecycle.insurance_year(contract.start_date, contract.main_due)
    days = contract_terms(catalog, contract).days_per_year
    delta = lifecycle.pro_rata(old_annual, contract.annual_total, year[0], year, days) or None
    version = add_version(
        session, contract, VersionKind.CHANGE, year[0], changes, actor=actor, actor_label=label, premium_delta=delta
    )
    issue_documents(
        session, [(contract, endorsement_documents(version, invoice=bool(delta)))], catalog=catalog, workers=pdf_workers
    )
    audit.record(
        session,
        "sf_reclassified",
        actor=actor,
        actor_label=label,
        agency_id=contract.agency_id,
        object_type="contract",
        object_id=contract.public_id,
        details={
            "sf_kh": sf_kh.key,
            "sf_vk": sf_vk.key if sf_vk else None,
            "premium_delta": str(delta) if delta else None,
        },
    )
    return version
