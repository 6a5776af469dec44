"""The start of a customer's onboarding: written by policing (portal delivery), in its transaction."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from contracts.models import Delivery
from core import clock
from core.db import Base, enum_type, new_public_id


class CodeChannel(enum.StrEnum):
    SMS = "sms"  # new customers: the access code comes by SMS when the link is opened
    LETTER = "letter"  # existing customers: the access code comes by post


def channel_type() -> sa.Enum:
    """CodeChannel columns are VARCHAR(10) (the other enums take core.db's default of 20)."""
    return enum_type(CodeChannel, length=10)


class OnboardingStart(Base):
    __tablename__ = "onboarding_starts"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    contract_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("contracts.id"), index=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(254))
    mobile: so.Mapped[str | None] = so.mapped_column(sa.String(20))  # E.164
    code_channel: so.Mapped[CodeChannel] = so.mapped_column(channel_type())
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    # set by the onboarding module when it has acted on this record (issue #6)
    processed_at: so.Mapped[datetime | None]


class PortalAccount(Base):
    """A customer's portal account (activated with an access link and code)."""

    __tablename__ = "customers"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    email: so.Mapped[str] = so.mapped_column(sa.String(254), unique=True)
    full_name: so.Mapped[str] = so.mapped_column(sa.String(250))
    password_hash: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    is_active: so.Mapped[bool] = so.mapped_column(default=True)
    activated_at: so.Mapped[datetime | None]
    last_login_at: so.Mapped[datetime | None]
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    # optional two-factor login (onboarding.two_factor): the TOTP secret (while being set up, before
    # totp_enabled_at) and the last time step used, so a code counts once
    totp_secret: so.Mapped[str | None] = so.mapped_column(sa.String(255))  # encrypted (core.crypto)
    totp_enabled_at: so.Mapped[datetime | None]
    totp_last_step: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)
    # the versions of the Nutzungsbedingungen and Datenschutzhinweise he agreed to last (the portal is
    # usable only with the current ones: onboarding.consent); every consent is kept in portal_consents
    terms_version: so.Mapped[str | None] = so.mapped_column(sa.String(40))
    privacy_version: so.Mapped[str | None] = so.mapped_column(sa.String(40))

    @property
    def two_factor(self) -> bool:
        return self.totp_enabled_at is not None

    # Flask-Login protocol; customers and staff share one session mechanism, told apart by the id
    is_authenticated = True
    is_anonymous = False
    is_customer = True
    # the token of the login session this object was loaded for (core.sessions); not a column
    login_token: str = ""

    def get_id(self) -> str:
        return f"customer:{self.login_token}"


class AccessLink(Base):
    """A Zugangslink: the token itself is never stored, only its SHA-256."""

    __tablename__ = "access_links"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    customer_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("customers.id"), index=True)
    contract_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("contracts.id"), index=True)
    code_channel: so.Mapped[CodeChannel] = so.mapped_column(channel_type())
    mobile: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now, index=True)
    expires_at: so.Mapped[datetime]
    opened_at: so.Mapped[datetime | None]
    used_at: so.Mapped[datetime | None]
    revoked_at: so.Mapped[datetime | None]  # a newer invitation replaced it
    # a customer's own registration (onboarding.registration): the link of the confirmation e-mail; valid
    # for the confirmation at first, for the letter code's activation once confirmed
    self_registered: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    confirmed_at: so.Mapped[datetime | None]
    registration_id: so.Mapped[int | None]

    customer: so.Mapped[PortalAccount] = so.relationship()


class AccessCode(Base):
    """A Zugangs-Code (SMS or letter), stored as HMAC; a new one ends the previous ones of the link."""

    __tablename__ = "access_codes"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    link_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("access_links.id"), index=True)
    code_hmac: so.Mapped[str] = so.mapped_column(sa.String(64))
    channel: so.Mapped[CodeChannel] = so.mapped_column(channel_type())
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    expires_at: so.Mapped[datetime]
    failed_attempts: so.Mapped[int] = so.mapped_column(default=0)
    superseded_at: so.Mapped[datetime | None]
    used_at: so.Mapped[datetime | None]


class PasswordReset(Base):
    __tablename__ = "password_resets"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    customer_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("customers.id"), index=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    expires_at: so.Mapped[datetime]
    used_at: so.Mapped[datetime | None]


class PasswordResetRequest(Base):
    """A "Passwort vergessen" as typed. The web request only records it — the same single INSERT
    whether or not an account exists, so neither its answer nor its timing tells — and the worker
    looks the account up and sends the link (onboarding.login.process_reset_requests)."""

    __tablename__ = "password_reset_requests"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    identifier: so.Mapped[str] = so.mapped_column(sa.String(254))
    requested_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    processed_at: so.Mapped[datetime | None] = so.mapped_column(index=True)


class ContactKind(enum.StrEnum):
    EMAIL = "email"  # confirmed by a link sent to the new address
    MOBILE = "mobile"  # confirmed by an SMS code sent to the new number


class ContactChange(Base):
    """A new e-mail address or mobile number the customer asked for in the portal; it applies only
    once confirmed from the new address (link) or the new phone (code). A newer request ends the
    older one of the same kind."""

    __tablename__ = "contact_changes"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    customer_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("customers.id"), index=True)
    kind: so.Mapped[ContactKind]
    old_value: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    new_value: so.Mapped[str] = so.mapped_column(sa.String(254))
    # the link token's SHA-256 (e-mail) or the code's HMAC (mobile); never the secret itself
    secret_hash: so.Mapped[str] = so.mapped_column(sa.String(64), index=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    expires_at: so.Mapped[datetime]
    used_at: so.Mapped[datetime | None]
    superseded_at: so.Mapped[datetime | None]
    failed_attempts: so.Mapped[int] = so.mapped_column(default=0)


class RecoveryCode(Base):
    """A one-time recovery code of the two-factor login, stored as HMAC."""

    __tablename__ = "recovery_codes"
    __table_args__ = (sa.UniqueConstraint("customer_id", "code_hmac"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    customer_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("customers.id"))
    code_hmac: so.Mapped[str] = so.mapped_column(sa.String(64))
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    used_at: so.Mapped[datetime | None]


class OnboardingProgress(Base):
    """A read model (issue #28 item 7): each invited contract's way through the onboarding, one row
    per contract with the times of its steps — kept by onboarding.progress in the transaction of every
    change of its sources (access links, codes, the customer's activation, the contract's delivery and
    owner), so the dashboard's funnel of any period is one range scan over `sent_at`.

    sent_at: the contract's first access link (its invitation; a re-sent link does not move it),
    last_sent_at: its newest; opened_at: a link first opened; code_at: a code first sent;
    activated_at: the customer's activation if after sent_at; open_until / expired_since: the latest /
    earliest expiry of its links neither used nor revoked (a link is open while open_until > now, one
    expired if expired_since <= now). Bounced e-mails are not kept here: they are few and are joined
    from the outbox when counted."""

    __tablename__ = "onboarding_progress"
    __table_args__ = (
        sa.Index("ix_onboarding_progress_agency_sent", "agency_id", "sent_at"),
        sa.Index("ix_onboarding_progress_sent", "sent_at"),
    )

    contract_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("contracts.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    contract_public_id: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    agency_id: so.Mapped[int | None]
    owner_id: so.Mapped[int | None]
    delivery: so.Mapped[Delivery | None]
    sent_at: so.Mapped[datetime | None]
    last_sent_at: so.Mapped[datetime | None]
    opened_at: so.Mapped[datetime | None]
    code_at: so.Mapped[datetime | None]
    activated_at: so.Mapped[datetime | None]
    open_until: so.Mapped[datetime | None]
    expired_since: so.Mapped[datetime | None]
    # 1 when one of its links was the customer's own registration (onboarding.registration), else 0
    self_registered: so.Mapped[int] = so.mapped_column(default=0, server_default="0")


class RegistrationRequest(Base):
    """A "Jetzt registrieren" as typed. The web request only records it — the same INSERT whether or
    not a contract matches, so neither its answer nor its timing tells — and the worker matches it
    and sends what it has to say by e-mail (onboarding.registration.process_registrations)."""

    __tablename__ = "registration_requests"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    contract_number: so.Mapped[str] = so.mapped_column(sa.String(40))
    birth_date: so.Mapped[date]
    email: so.Mapped[str] = so.mapped_column(sa.String(254))
    terms_version: so.Mapped[str] = so.mapped_column(sa.String(40))
    privacy_version: so.Mapped[str] = so.mapped_column(sa.String(40))
    client_address: so.Mapped[str | None] = so.mapped_column(sa.String(45))
    requested_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    processed_at: so.Mapped[datetime | None] = so.mapped_column(index=True)
    # what the worker did: confirmation, address_taken, already_active, no_match, limited
    outcome: so.Mapped[str | None] = so.mapped_column(sa.String(20))


class PortalConsent(Base):
    """One consent to the portal's Nutzungsbedingungen and Datenschutzhinweise, with their versions."""

    __tablename__ = "portal_consents"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    customer_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("customers.id"), index=True)
    terms_version: so.Mapped[str] = so.mapped_column(sa.String(40))
    privacy_version: so.Mapped[str] = so.mapped_column(sa.String(40))
    given_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    source: so.Mapped[str] = so.mapped_column(sa.String(20))  # registration, activation, login
