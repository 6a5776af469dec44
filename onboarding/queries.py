"""What the portal reads of a customer: his contracts and one contract's details."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from calculator.tariffs import TariffCatalog
from contracts.models import Contract
from contracts.presentation import policy_scope
from core import clock
from onboarding.models import (
    PortalAccount,
)


def contracts_of(session: so.Session, customer: PortalAccount) -> list[Contract]:
    return list(
        session.scalars(
            sa.select(Contract).where(Contract.customer_account_id == customer.id).order_by(Contract.policed_at.desc())
        )
    )


def contract_details(
    session: so.Session, customer: PortalAccount, public_id: str, catalog: TariffCatalog
) -> dict[str, Any] | None:
    """What "Meine Verträge" shows of one of his contracts (None: not his): the contract, the
    insured risk as its Versicherungsschein states it, its documents newest first, his broker."""
    contract = session.scalar(
        sa.select(Contract).where(Contract.public_id == public_id, Contract.customer_account_id == customer.id)
    )
    if contract is None:
        return None
    today = clock.today()
    return {
        "contract": contract,
        **policy_scope(session, catalog, contract, today),
        "documents": sorted(contract.documents, key=lambda d: (d.created_at, d.id), reverse=True),
        "broker": contract.owner,
        "evb_status": contract.evb.status(today) if contract.evb else None,
    }
