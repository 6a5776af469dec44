"""The back office's queues on its start page (issue #26 item 20): Risikoprüfung, Postausgang, failed
messages, open claims, open SF-Bestätigungen and eVBs in question — each with its count and the age
of its oldest item, one aggregate statement per queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from contracts import einstufung
from contracts.models import Application, ApplicationState, Claim, ContactMessage, Contract
from core import clock
from core.users import User
from messaging.models import Kind, OutboxMessage, State


@dataclass(frozen=True)
class Queue:
    label: str
    endpoint: str  # the list behind it
    count: int
    oldest: datetime | None

    def age_days(self, now: datetime) -> int | None:
        return None if self.oldest is None else max((now - self.oldest).days, 0)


def _queue(session: so.Session, label: str, endpoint: str, oldest: Any, *where: Any) -> Queue:
    count, first = session.execute(sa.select(sa.func.count(), sa.func.min(oldest)).where(*where)).one()
    return Queue(label, endpoint, int(count or 0), first)


def queues(session: so.Session, user: User) -> dict[str, Any]:
    """What waits for the back office (all agencies: the back office sees everything)."""
    return {
        "now": clock.now(),
        "queues": [
            _queue(
                session,
                "Risikoprüfung",
                "contracts_backoffice.referrals",
                Application.submitted_at,
                Application.state == ApplicationState.REFERRED,
            ),
            _queue(
                session,
                "Postausgang",
                "messaging.postausgang",
                OutboxMessage.created_at,
                OutboxMessage.kind == Kind.LETTER,
                OutboxMessage.state.in_((State.PENDING, State.SENDING, State.READY)),
            ),
            _queue(
                session,
                "Fehlgeschlagene Nachrichten",
                "messaging.messages",
                OutboxMessage.created_at,
                OutboxMessage.state == State.FAILED,
            ),
            _queue(
                session,
                "Offene Schadenmeldungen",
                "contracts_backoffice.claims_list",
                Claim.reported_at,
                Claim.handled_at.is_(None),
            ),
            _queue(
                session,
                "Kontakt: offene Nachrichten",
                "contracts_backoffice.contact_list",
                ContactMessage.created_at,
                ContactMessage.from_customer.is_(True),
                ContactMessage.answered_at.is_(None),
            ),
            _queue(
                session,
                "SF-Bestätigungen offen",
                "contracts_backoffice.sf_confirmations",
                Contract.policed_at,
                Contract.sf_confirmation == einstufung.PENDING,
            ),
        ],
    }
