"""Staff sign-in use cases: log in (throttled per account and address, audited), log out, change
the own password. The views only parse the form and start or end the browser's session."""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm as so

from core import audit, sessions, throttle
from core.passwords import PasswordRule
from core.users import User, authenticate, login_key
from core.users import change_password as change_password_of


def log_in(
    session: so.Session, email: str, password: str, client_address: str | None, limits: throttle.LoginLimits
) -> throttle.LoginAttempt[User]:
    """Count the attempt before the password is checked (committed), then check it; every outcome is
    audited. limits: the LOGIN_* settings."""
    email = login_key(email)[:254]
    policies = throttle.login_policies(limits, "staff:" + email, client_address)
    wait = throttle.claim(session, policies)
    session.commit()
    if wait:
        audit.record(session, "login_throttled", actor_label=email, client_address=client_address)
        session.commit()
        return throttle.LoginAttempt(wait_seconds=wait)
    user = authenticate(session, email, password)
    if user is None:
        known = session.scalar(sa.select(User).where(User.email == email))
        audit.record(session, "login_failed", actor=known, actor_label=email, client_address=client_address)
        session.commit()
        return throttle.LoginAttempt()
    throttle.succeeded(session, policies, reset=[k for k in policies if k.startswith("account:")])
    audit.record(session, "login", actor=user, client_address=client_address)
    return throttle.LoginAttempt(account=user)  # committed with the new login session (core.sessions.log_in)


def log_out(session: so.Session, user: User, client_address: str | None) -> None:
    """End this browser's session on the server too (a copied cookie is dead)."""
    audit.record(session, "logout", actor=user, client_address=client_address)
    sessions.end(session, "staff", user.login_token)


def change_password(
    session: so.Session,
    user: User,
    current: str,
    new: str,
    repeated: str,
    rule: PasswordRule,
    client_address: str | None,
) -> dict[str, list[str]]:
    """German errors per field (empty: changed, audited, every session of the user ended)."""
    errors = change_password_of(session, user, current, new, repeated, rule)
    if not errors:
        audit.record(session, "password_changed", actor=user, client_address=client_address)
    return errors
