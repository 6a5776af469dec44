"""The broker's worklist on his start page (the agency manager's for his agency): Anträge in
Risikoprüfung, decisions of the last days, customers who got the access link but have not activated
it for WORKLIST_REMINDER_DAYS ("Erinnerung senden"), invitations about to end while their code letter
still lies in the Postausgang, failed messages to his customers, open claims of his customers, his
customers' messages from the portal's Kontakt not answered yet. One query per list, each limited and
scoped to the user's contracts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from agency import services
from contracts import contact
from contracts.models import Application, ApplicationState, Claim, Contract
from contracts.presentation import code_letter_unposted
from core import clock
from core.authz import scoped
from core.users import User
from messaging.models import OutboxMessage, State

LIMIT = 10  # rows per list; the lists behind the counts have the rest


@dataclass(frozen=True)
class Settings:
    reminder_days: int  # the link unused this long: offer "Erinnerung senden"
    decision_days: int  # decisions shown this long
    link_days: int  # an access link's validity (its sending day = expiry − link_days)
    letter_warning_days: int = 7  # the invitation ends this soon and its code letter is unposted: warn


def _counted(session: so.Session, stmt: sa.Select[Any], order: Any) -> tuple[list[Any], int]:
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())) or 0
    return list(session.scalars(stmt.order_by(*order).limit(LIMIT))), total


def worklist(session: so.Session, user: User, settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    now = now or clock.now()
    referred, referred_total = _counted(
        session,
        scoped(sa.select(Application).where(Application.state == ApplicationState.REFERRED), Application, user),
        (Application.submitted_at,),
    )
    decided, decided_total = _counted(
        session,
        scoped(
            sa.select(Application).where(Application.decided_at > now - timedelta(days=settings.decision_days)),
            Application,
            user,
        ),
        (Application.decided_at.desc(),),
    )
    # sent at least reminder_days ago, not yet expired: expiry in (now, now + link_days − reminder_days]
    waiting, waiting_total = _counted(
        session,
        scoped(
            sa.select(Contract).where(
                Contract.onboarding_state.in_(services.OPEN),
                Contract.onboarding_expires_at > now,
                Contract.onboarding_expires_at <= now + timedelta(days=settings.link_days - settings.reminder_days),
            ),
            Contract,
            user,
        ),
        (Contract.onboarding_expires_at,),
    )
    # the code letter still in the Postausgang while the invitation ends soon
    unposted = code_letter_unposted()
    letters, letters_total = _counted(
        session,
        scoped(
            sa.select(Contract).where(
                Contract.onboarding_state == "code_sent",
                Contract.onboarding_expires_at > now,
                Contract.onboarding_expires_at <= now + timedelta(days=settings.letter_warning_days),
                unposted,
            ),
            Contract,
            user,
        ),
        (Contract.onboarding_expires_at,),
    )
    failed, failed_total = _counted(
        session,
        sa.select(OutboxMessage).where(
            OutboxMessage.state == State.FAILED,
            OutboxMessage.related_type == "contract",
            # failed messages are few: each is checked against the user's contracts (unique public id)
            sa.exists(
                scoped(sa.select(Contract.id), Contract, user).where(Contract.public_id == OutboxMessage.related_id)
            ),
        ),
        (OutboxMessage.created_at.desc(),),
    )
    claims, claims_total = _counted(
        session,
        scoped(sa.select(Claim).where(Claim.handled_at.is_(None)), Claim, user).options(
            so.selectinload(Claim.contract)
        ),
        (Claim.reported_at.desc(),),
    )
    messages = contact.open_messages(session, user, 1, LIMIT)  # Kontakt: the customers' open messages
    return {
        "messages": messages.items,
        "messages_total": messages.total,
        "subjects": contact.SUBJECTS,
        "referred": referred,
        "referred_total": referred_total,
        "decided": decided,
        "decided_total": decided_total,
        "waiting": waiting,
        "waiting_total": waiting_total,
        "letters": letters,
        "letters_total": letters_total,
        "failed": failed,
        "failed_total": failed_total,
        "claims": claims,
        "claims_total": claims_total,
        "settings": settings,
        "now": now,
    }
