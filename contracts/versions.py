"""A contract's versions: each change, cancellation or Rücknahme is a new ContractVersion with an
effective date and, where it is a Nachtrag, its documents; the optimistic lock (the form carries the
version it was filled in on) and the German ChangeError every contract change raises."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from calculator.tariffs import (
    ContractTerms,
    TariffCatalog,
)
from contracts import lifecycle
from contracts.documents import Planned
from contracts.models import Contract, ContractVersion, DocumentKind, VersionKind
from core.formatting import date_de as format_date
from core.users import User

# the versions that are a Nachtrag (numbered)
ENDORSED = (VersionKind.CHANGE, VersionKind.CANCELLATION, VersionKind.WITHDRAWAL)


NOTHING_CHANGED = "Sie haben keine Vertragsangabe geändert."


class ChangeError(ValueError):
    """German message, for the form field `field` (None: for the whole form)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field


def snapshot(contract: Contract) -> dict[str, Any]:
    """The contract's changeable data, as a version keeps it."""
    return {
        "customer": dict(contract.customer),
        "account_holder": contract.account_holder,
        "iban": contract.iban,
        "mandate_reference": contract.mandate_reference,
        "frequency": contract.frequency,
        "total": str(contract.total),
        "annual_total": str(contract.annual_total),
        "premium": contract.premium,
        "tariff_version": contract.tariff_version,
        "answers": contract.answers,
        "risk": contract.risk,
        "main_due": contract.main_due.isoformat() if contract.main_due else None,
        "ends_on": contract.ends_on.isoformat() if contract.ends_on else None,
        "end_reason": contract.end_reason,
    }


def lock(session: so.Session, contract: Contract, expected_version: int | None) -> None:
    """Lock the contract row; a form filled in on an older version is refused (optimistic check)."""
    session.refresh(contract, with_for_update=True)
    if expected_version is not None and contract.version != expected_version:
        raise ChangeError(
            "Der Vertrag wurde inzwischen geändert (zum Beispiel von einer Kollegin oder einem Kollegen). "
            "Bitte prüfen Sie die aktuellen Vertragsdaten und Ihre Eingaben und senden Sie die Änderung erneut."
        )


def first_version(session: so.Session, contract: Contract) -> None:
    """Version 0 (the contract as policed or imported), made when the history is first needed."""
    if session.scalar(sa.select(ContractVersion.id).where(ContractVersion.contract_id == contract.id).limit(1)):
        return
    session.add(
        ContractVersion(
            contract_id=contract.id,
            seq=0,
            kind=VersionKind.POLICED,
            effective_date=contract.start_date,
            data=snapshot(contract),
            changes=[],
        )
    )
    session.flush()


def endorsement_documents(
    version: ContractVersion,
    *,
    invoice: bool,
    endorsement_extra: dict[str, Any] | None = None,
    invoice_extra: dict[str, Any] | None = None,
) -> list[Planned]:
    """A version's Nachtrag, and its Beitragsrechnung when the premium changed."""
    number = version.endorsement_no
    planned = [
        Planned(DocumentKind.ENDORSEMENT, f"Nachtrag Nr. {number}", {"version": version, **(endorsement_extra or {})})
    ]
    if invoice:
        context = {"version": version, **(invoice_extra or {})}
        planned.append(Planned(DocumentKind.INVOICE, f"Beitragsrechnung Nachtrag Nr. {number}", context))
    return planned


def add_version(
    session: so.Session,
    contract: Contract,
    kind: VersionKind,
    effective: date,
    changes: list[dict[str, str]],
    *,
    actor: User | None,
    actor_label: str | None = None,
    premium_delta: Decimal | None = None,
    renewal_due: date | None = None,
    run_id: int | None = None,
) -> ContractVersion:
    """The contract's data (already changed) as its next version."""
    first_version(session, contract)
    last = session.execute(
        sa.select(sa.func.max(ContractVersion.seq), sa.func.max(ContractVersion.endorsement_no)).where(
            ContractVersion.contract_id == contract.id
        )
    ).one()
    endorsement = (last[1] or 0) + 1 if kind in ENDORSED else None
    version = ContractVersion(
        contract_id=contract.id,
        seq=(last[0] or 0) + 1,
        kind=kind,
        endorsement_no=endorsement,
        effective_date=effective,
        renewal_due=renewal_due,
        run_id=run_id,
        data=snapshot(contract),
        changes=changes,
        premium_delta=premium_delta,
        actor_id=actor.id if actor else None,
        actor_label=actor_label,
    )
    session.add(version)
    contract.version += 1
    session.flush()
    return version


def version_at(session: so.Session, contract: Contract, day: date) -> ContractVersion | None:
    """The version in effect on `day` (None: the contract has no history yet, or began later)."""
    return session.scalar(
        sa.select(ContractVersion)
        .where(ContractVersion.contract_id == contract.id, ContractVersion.effective_date <= day)
        .order_by(ContractVersion.effective_date.desc(), ContractVersion.seq.desc())
        .limit(1)
    )


def history(session: so.Session, contract: Contract) -> list[ContractVersion]:
    return list(
        session.scalars(
            sa.select(ContractVersion).where(ContractVersion.contract_id == contract.id).order_by(ContractVersion.seq)
        )
    )


def check_running(contract: Contract, today: date) -> None:
    if contract.ends_on is not None and contract.ends_on <= today:
        raise ChangeError(f"Der Vertrag ist zum {format_date(contract.ends_on)} beendet.")
    if contract.main_due is None:
        raise ChangeError("Für diesen Vertrag ist keine Hauptfälligkeit hinterlegt.")


def last_change_effective(session: so.Session, contract: Contract) -> date | None:
    """The effective date of the latest change (a new change cannot take effect before it)."""
    return session.scalar(
        sa.select(sa.func.max(ContractVersion.effective_date)).where(
            ContractVersion.contract_id == contract.id, ContractVersion.kind != VersionKind.POLICED
        )
    )


def diff(label: str, old: str, new: str) -> dict[str, str]:
    return {"label": label, "old": old, "new": new}


def contract_terms(catalog: TariffCatalog, contract: Contract) -> ContractTerms:
    """The contract's terms (Hauptfälligkeit, pro rata, notice) from its own tariff version."""
    return lifecycle.terms_for(catalog, contract.product, contract.tariff_version, contract.start_date)
