"""The customer's own changes in the portal ("Vertragsdaten ändern").

Postal address and bank account go through the contract lifecycle's change service
(contracts.changes): a Nachtrag per contract into his folder, and one confirmation e-mail. A new
e-mail address or mobile number: onboarding.contact_changes. Every change he makes is confirmed to
him and kept in his folder (the broker-folder seed): the Nachtrag, or for contact data a "Mitteilung".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
import sqlalchemy.exc
import sqlalchemy.orm as so

from calculator.tariffs import TariffCatalog
from contracts import changes, versions
from contracts.models import Contract, ContractVersion
from contracts.settings import Rules
from core import audit
from messaging import outbox
from onboarding.models import ContactChange, ContactKind, PortalAccount

ACTOR = "Kunde (Kunden-Portal)"


# the change service's fields → the portal form's fields (anything else: for the whole form)
FIELDS = {"strasse": "strasse", "plz": "plz", "ort": "ort", "iban": "iban", "sepa_mandat": "sepa_mandat"}


class SelfServiceError(ValueError):
    """German message for the form field `field` (None: for the whole form)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field


@dataclass(frozen=True)
class DataChange:
    """The portal's "Anschrift und Bankverbindung" form: the address always (prefilled), a bank
    account only when it changes (iban empty: the contracts keep theirs)."""

    street: str
    plz: str
    city: str
    account_holder: str
    iban: str
    mandate_accepted: bool
    contracts: tuple[str, ...]  # public ids of the contracts it applies to


def running_contracts(session: so.Session, customer: PortalAccount, today: date) -> list[Contract]:
    """His contracts a change can still apply to (not ended, with a Hauptfälligkeit), newest first."""
    return list(
        session.scalars(
            sa.select(Contract)
            .where(
                Contract.customer_account_id == customer.id,
                Contract.main_due.is_not(None),
                sa.or_(Contract.ends_on.is_(None), Contract.ends_on > today),
            )
            .order_by(Contract.policed_at.desc(), Contract.id.desc())
        )
    )


def current_mobile(session: so.Session, customer: PortalAccount) -> str | None:
    """His mobile number: the one of his newest contract that has one."""
    return session.scalar(
        sa.select(Contract.customer_mobile)
        .where(Contract.customer_account_id == customer.id, Contract.customer_mobile.is_not(None))
        .order_by(Contract.policed_at.desc(), Contract.id.desc())
        .limit(1)
    )


def pending(session: so.Session, customer: PortalAccount, kind: ContactKind, now: datetime) -> ContactChange | None:
    """The open request of this kind (not used, replaced or expired), if any."""
    return session.scalar(
        sa.select(ContactChange)
        .where(
            ContactChange.customer_id == customer.id,
            ContactChange.kind == kind,
            ContactChange.used_at.is_(None),
            ContactChange.superseded_at.is_(None),
            ContactChange.expires_at > now,
        )
        .order_by(ContactChange.id.desc())
        .limit(1)
    )


def change_data(
    session: so.Session,
    customer: PortalAccount,
    change: DataChange,
    *,
    catalog: TariffCatalog,
    rules: Rules,
    today: date,
    pdf_workers: int | None = None,
) -> list[ContractVersion]:
    """Apply the new address (and bank account) from today to each chosen contract of his: a
    Nachtrag each (a Beitragsrechnung too where a move changes the Kfz Regionalklasse), one
    confirmation e-mail. Contracts where nothing differs are left alone. All or nothing: the caller
    rolls back on SelfServiceError."""
    chosen = [c for c in running_contracts(session, customer, today) if c.public_id in change.contracts]
    if not chosen:
        raise SelfServiceError("Bitte wählen Sie mindestens einen Vertrag aus.", "vertraege")
    made: list[ContractVersion] = []
    for contract in chosen:
        # from today; a contract not yet begun from its start, after a later-dated change from its date
        effective = max(today, contract.start_date, versions.last_change_effective(session, contract) or today)
        data = changes.ContractChange(
            effective=effective,
            street=change.street,
            plz=change.plz,
            city=change.city,
            account_holder=change.account_holder if change.iban else (contract.account_holder or ""),
            iban=change.iban or (contract.iban or ""),
            bic=None,
            mandate_accepted=change.mandate_accepted,
            frequency=contract.frequency,
        )
        try:
            version = changes.change_contract(
                session,
                None,
                contract,
                data,
                expected_version=None,
                catalog=catalog,
                rules=rules,
                today=today,
                pdf_workers=pdf_workers,
                actor_label=ACTOR,
                announce=False,  # the confirmation below tells him
            )
        except versions.ChangeError as error:
            if error.message == versions.NOTHING_CHANGED:
                continue
            field = FIELDS.get(error.field or "")
            raise SelfServiceError(
                error.message if field else f"Vertrag {contract.number}: {error.message}", field
            ) from None
        made.append(version)
    if not made:
        raise SelfServiceError("Sie haben keine Angabe geändert.")
    outbox.enqueue_email(
        session,
        key=f"data-changed:{made[0].contract_id}:{made[0].seq}",
        to=customer.email,
        subject="Ihre Änderung ist gespeichert",
        template="data_changed",
        context={
            "customer": customer,
            "versions": [(v, session.get(Contract, v.contract_id)) for v in made],
            "contract": chosen[0],  # his broker's contact under the message
        },
        related=("contract", chosen[0].public_id),
        agency_id=chosen[0].agency_id,
    )
    return made


def newest_contract(session: so.Session, customer: PortalAccount) -> Contract | None:
    return session.scalar(
        sa.select(Contract)
        .where(Contract.customer_account_id == customer.id)
        .order_by(Contract.policed_at.desc(), Contract.id.desc())
        .limit(1)
    )


def record(
    session: so.Session, action: str, customer: PortalAccount, client_address: str | None = None, **details: str
) -> None:
    """An event of the customer's own on the audit trail of his newest contract (seen by his broker)."""
    contract = newest_contract(session, customer)
    audit.record(
        session,
        action,
        actor_label=customer.email,
        client_address=client_address,
        agency_id=contract.agency_id if contract else None,
        object_type="contract" if contract else None,
        object_id=contract.public_id if contract else None,
        details=details or None,
    )
