"""The start of a customer's onboarding: written by policing (portal delivery), in its transaction."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from core import clock
from core.db import Base, new_public_id


class CodeChannel(enum.StrEnum):
    SMS = "sms"  # new customers: the access code comes by SMS when the link is opened
    LETTER = "letter"  # existing customers: the access code comes by post


class OnboardingStart(Base):
    __tablename__ = "onboarding_starts"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    contract_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("contracts.id"), index=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(254))
    mobile: so.Mapped[str | None] = so.mapped_column(sa.String(20))  # E.164
    code_channel: so.Mapped[CodeChannel] = so.mapped_column(
        sa.Enum(CodeChannel, native_enum=False, length=10, values_callable=lambda e: [m.value for m in e])
    )
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    # set by the onboarding module when it has acted on this record (issue #6)
    processed_at: so.Mapped[datetime | None]


def request_onboarding(
    session: so.Session, *, contract_id: int, email: str, mobile: str | None, channel: CodeChannel
) -> OnboardingStart:
    """Record that this contract's customer is to be onboarded (same transaction as the caller)."""
    start = OnboardingStart(contract_id=contract_id, email=email, mobile=mobile, code_channel=channel)
    session.add(start)
    return start
