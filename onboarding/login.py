"""The customer's login (throttled per account and client address), the password reset (recorded by
the request, answered by the worker) and the password change."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from contracts.models import Contract
from core import audit, clock, leases, sessions, throttle, tokens
from core.passwords import hash_password, needs_rehash, verify_password
from messaging import outbox
from onboarding.access import Activation, check_new_password
from onboarding.models import (
    PasswordReset,
    PasswordResetRequest,
    PortalAccount,
)
from onboarding.queries import contracts_of
from onboarding.settings import OnboardingSettings
from onboarding.trail import record_event


def find_customer(session: so.Session, identifier: str) -> PortalAccount | None:
    """By e-mail address or Vertragsnummer (case and whitespace do not matter)."""
    identifier = "".join(identifier.split())
    if "@" not in identifier:  # a Vertragsnummer (ours, or an imported existing contract's)
        contract = session.scalar(sa.select(Contract).where(Contract.number == identifier.upper()))
        return (
            session.get(PortalAccount, contract.customer_account_id)
            if contract and contract.customer_account_id
            else None
        )
    return session.scalar(sa.select(PortalAccount).where(PortalAccount.email == identifier.lower()))


def customer_by_public_id(session: so.Session, public_id: str) -> PortalAccount | None:
    customer = (
        session.scalar(sa.select(PortalAccount).where(PortalAccount.public_id == public_id)) if public_id else None
    )
    return customer if customer is not None and customer.is_active else None


def throttle_key(session: so.Session, identifier: str) -> str:
    """The account a login attempt is counted against: the customer account where one matches (so
    e-mail and Vertragsnummer, in any case or spacing, share one count), else the typed identifier
    normalised (case and all whitespace removed)."""
    customer = find_customer(session, identifier)
    if customer is not None:
        return f"customer:{customer.id}"
    return "customer?:" + "".join(identifier.split()).lower()[:254]


def authenticate(session: so.Session, identifier: str, password: str) -> PortalAccount | None:
    customer = find_customer(session, identifier)
    usable = customer is not None and customer.is_active and customer.password_hash is not None
    ok = verify_password(customer.password_hash if usable and customer else None, password)
    if not ok or customer is None:
        return None
    if customer.password_hash and needs_rehash(customer.password_hash):  # PASSWORD_HASH_* changed since
        customer.password_hash = hash_password(password)
    customer.last_login_at = clock.now()
    return customer


def log_in(
    session: so.Session, identifier: str, password: str, client_address: str | None, limits: throttle.LoginLimits
) -> throttle.LoginAttempt[PortalAccount]:
    """Portal login with e-mail or Vertragsnummer: the attempt counts (per account and address)
    before the password is checked; success and failure land on the contract's audit trail."""
    policies = throttle.login_policies(limits, throttle_key(session, identifier), client_address)
    wait = throttle.claim(session, policies)
    session.commit()
    if wait:
        return throttle.LoginAttempt(wait_seconds=wait)
    customer = authenticate(session, identifier, password)
    found = customer or find_customer(session, identifier)
    contracts = contracts_of(session, found) if found else []
    action = "customer_login" if customer else "customer_login_failed"
    if customer is not None and customer.two_factor:
        action = "customer_password_ok"  # the login ends with the second factor (two_factor.check_login)
    audit.record(
        session,
        action,
        actor_label=identifier.strip()[:254],
        client_address=client_address,
        agency_id=contracts[0].agency_id if contracts else None,
        object_type="contract" if contracts else None,
        object_id=contracts[0].public_id if contracts else None,
    )
    if customer is not None:
        throttle.succeeded(session, policies, reset=[k for k in policies if k.startswith("account:")])
    session.commit()
    return throttle.LoginAttempt(account=customer)


def request_password_reset(session: so.Session, identifier: str) -> None:
    """Record the request; the worker acts on it (process_reset_requests). The same work whether or
    not the account exists: one INSERT, no lookup."""
    session.add(PasswordResetRequest(identifier=identifier.strip()[:254]))
    session.flush()


def process_reset_requests(session: so.Session, settings: OnboardingSettings, limit: int = 50) -> int:
    """Worker task: claim open reset requests (FOR UPDATE SKIP LOCKED) and, where an activated
    account belongs to them, create the reset link and its e-mail — all in one transaction, so a
    worker killed half-way leaves the requests to the next one and nothing is sent twice."""
    now = clock.now()
    ids = leases.claim(
        session,
        PasswordResetRequest,
        due=PasswordResetRequest.processed_at.is_(None),
        order_by=(PasswordResetRequest.id,),
        limit=limit,
        values={"processed_at": now},
        commit=False,  # processed in this transaction: a worker killed half-way leaves them open
    )
    for request_id in sorted(ids):
        request = session.get(PasswordResetRequest, request_id)
        assert request is not None
        _send_reset_link(session, request, settings)
    session.commit()
    return len(ids)


def _send_reset_link(session: so.Session, request: PasswordResetRequest, settings: OnboardingSettings) -> None:
    customer = find_customer(session, request.identifier)
    if customer is None or customer.activated_at is None or not customer.is_active:
        return
    now = clock.now()
    token = tokens.new_link_token()
    reset = PasswordReset(
        token_hash=tokens.token_hash(token),
        customer_id=customer.id,
        created_at=now,
        expires_at=now + timedelta(hours=settings.reset_hours),
    )
    session.add(reset)
    session.flush()
    outbox.enqueue_email(
        session,
        key=f"password-reset-request:{request.id}",
        to=customer.email,
        subject="Passwort vergessen",
        template="password_reset",
        context={"token": token, "hours": settings.reset_hours},
        sensitive=True,
    )
    for contract in contracts_of(session, customer)[:1]:
        record_event(session, "password_reset_requested", contract, customer.email)


def find_reset(session: so.Session, token: str) -> PasswordReset | None:
    reset = session.scalar(sa.select(PasswordReset).where(PasswordReset.token_hash == tokens.token_hash(token)))
    if reset is None or reset.used_at is not None or reset.expires_at <= clock.now():
        return None
    return reset


def reset_password(
    session: so.Session, reset: PasswordReset, password: str, repeated: str, settings: OnboardingSettings
) -> Activation:
    """Set the new password with a reset link. The link is used up by one guarded UPDATE: of
    parallel submits exactly one sets a password."""
    customer = session.get(PortalAccount, reset.customer_id)
    assert customer is not None
    errors = check_new_password(customer.email, password, repeated, settings.password)
    if errors:
        return Activation(errors=errors)
    now = clock.now()
    used = session.execute(
        sa.update(PasswordReset)
        .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None), PasswordReset.expires_at > now)
        .values(used_at=now)
        .returning(PasswordReset.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if used is None:
        return Activation(message="Dieser Link wurde bereits verwendet oder ist abgelaufen.")
    customer.password_hash = hash_password(password)
    sessions.end_all(session, "customer", customer.id)  # a reset ends every session of the account
    for contract in contracts_of(session, customer)[:1]:
        record_event(session, "password_reset", contract, customer.email)
    return Activation(customer=customer)


def change_password(
    session: so.Session,
    customer: PortalAccount,
    current: str,
    password: str,
    repeated: str,
    settings: OnboardingSettings,
) -> Activation:
    if not verify_password(customer.password_hash, current):
        return Activation(errors={"aktuelles_passwort": ["Das aktuelle Passwort ist nicht richtig."]})
    errors = check_new_password(customer.email, password, repeated, settings.password)
    if errors:
        return Activation(errors=errors)
    customer.password_hash = hash_password(password)
    sessions.end_all(session, "customer", customer.id)  # the caller starts a fresh one for this browser
    return Activation(customer=customer)
