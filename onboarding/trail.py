"""Onboarding events on the contract's audit trail (seen by its broker and the back office)."""

from __future__ import annotations

from typing import Any

import sqlalchemy.orm as so

from contracts.models import Contract
from core import audit


def record_event(session: so.Session, action: str, contract: Contract | None, who: str, **details: Any) -> None:
    """Onboarding events land on the contract's audit trail (seen by its broker and the back office)."""
    audit.record(
        session,
        action,
        actor_label=who,
        agency_id=contract.agency_id if contract else None,
        object_type="contract" if contract else None,
        object_id=contract.public_id if contract else None,
        details=details,
    )
