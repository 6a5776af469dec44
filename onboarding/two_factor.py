"""Optional two-factor login for the portal (the registration seed recommends it): TOTP (RFC 6238)
with pyotp, the set-up QR code rendered here with segno (the secret never leaves for a QR service),
one-time recovery codes stored as HMAC.

A code counts once: the last used time step is kept and moved on by one atomic UPDATE, so a code
seen over someone's shoulder (or sent twice in parallel) is refused in its own window. Wrong codes
are throttled per account like passwords (core.throttle: the first TOTP_FREE_ATTEMPTS free, then
growing delays) — counted before the code is compared.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import segno
import sqlalchemy as sa
import sqlalchemy.orm as so

from core import audit, clock, throttle, tokens
from core.crypto import is_encrypted
from core.passwords import verify_password
from core.users import User
from messaging import outbox
from onboarding.models import PortalAccount, RecoveryCode
from onboarding.self_service import newest_contract, record
from onboarding.settings import OnboardingSettings

STEP_SECONDS = 30  # RFC 6238's time step, as every authenticator app uses
WINDOW = 1  # steps before and after now that are still accepted (clock drift of the phone)
RECOVERY_ALPHABET = tokens.LETTER_CODE_ALPHABET  # no I/1, O/0: typed from paper
RECOVERY_LENGTH = 10
RESET_CHECKS = {
    "rueckruf": "Rückruf unter der im Vertrag hinterlegten Telefonnummer",
    "ausweis": "Ausweis geprüft (persönlich oder per Video-Ident)",
    "schriftlich": "schriftlicher Antrag mit Unterschrift",
}


class TwoFactorError(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field


ASCII_DIGITS = frozenset("0123456789")


def plain_secret(customer: PortalAccount, settings: OnboardingSettings) -> str:
    """The customer's TOTP secret, decrypted (one stored before encryption is read as it is;
    `flask secrets rotate` encrypts it)."""
    stored = customer.totp_secret
    assert stored is not None
    return settings.box.decrypt(stored) if is_encrypted(stored) else stored


def _totp(secret: str, settings: OnboardingSettings, customer: PortalAccount) -> pyotp.TOTP:
    return pyotp.TOTP(secret, interval=STEP_SECONDS, issuer=settings.totp_issuer, name=customer.email)


def _matching_step(
    secret: str, code: str, now: datetime, settings: OnboardingSettings, customer: PortalAccount
) -> int | None:
    """The time step whose code this is (now ± WINDOW), compared in constant time; None: no match."""
    digits = "".join(ch for ch in code if ch in ASCII_DIGITS)  # "١٢٣" or "１２３" are no code
    if len(digits) != 6:
        return None
    totp = _totp(secret, settings, customer)
    current = int(now.timestamp()) // STEP_SECONDS
    found = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        if tokens.same(totp.at(step * STEP_SECONDS), digits):
            found = step
    return found


# --- set-up ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    secret: str
    uri: str  # otpauth://… for the QR code
    qr_svg: str  # inline SVG (no external service, no data: URL under the CSP)


def setup(session: so.Session, customer: PortalAccount, settings: OnboardingSettings) -> Setup:
    """The secret being set up (made once, kept until switched on), its QR code and URI."""
    if customer.two_factor:
        raise TwoFactorError("Die Zwei-Faktor-Anmeldung ist bereits eingeschaltet.")
    if not customer.totp_secret:  # stored encrypted (SECRETS_KEYS), read back for the QR code
        customer.totp_secret = settings.box.encrypt(pyotp.random_base32())
        session.flush()
    secret = plain_secret(customer, settings)
    uri = _totp(secret, settings, customer).provisioning_uri()
    qr = segno.make(uri, error="m")
    svg = qr.svg_inline(scale=5, border=2, title="QR-Code für Ihre Authenticator-App", omitsize=True)
    return Setup(secret, uri, svg)


def enable(
    session: so.Session, customer: PortalAccount, code: str, settings: OnboardingSettings, now: datetime | None = None
) -> list[str]:
    """Switch on with a first code from the app; returns the recovery codes (shown once)."""
    now = now or clock.now()
    session.refresh(customer, with_for_update=True)
    if customer.two_factor:
        raise TwoFactorError("Die Zwei-Faktor-Anmeldung ist bereits eingeschaltet.")
    if not customer.totp_secret:
        raise TwoFactorError("Bitte beginnen Sie die Einrichtung erneut.")
    step = _matching_step(plain_secret(customer, settings), code, now, settings, customer)
    if step is None:
        raise TwoFactorError(
            "Der Code stimmt nicht. Bitte geben Sie den aktuellen 6-stelligen Code aus Ihrer App ein "
            "(und prüfen Sie, ob die Uhrzeit Ihres Telefons stimmt).",
            "code",
        )
    customer.totp_enabled_at, customer.totp_last_step = now, step
    codes = _new_recovery_codes(session, customer, settings, now)
    record(session, "two_factor_enabled", customer)
    _notify(session, customer, "eingeschaltet")
    return codes


def _new_recovery_codes(
    session: so.Session, customer: PortalAccount, settings: OnboardingSettings, now: datetime
) -> list[str]:
    session.execute(sa.delete(RecoveryCode).where(RecoveryCode.customer_id == customer.id))
    codes = [
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        for _ in range(settings.recovery_codes)
    ]
    session.add_all(
        RecoveryCode(customer_id=customer.id, code_hmac=_recovery_hmac(settings, customer, c), created_at=now)
        for c in codes
    )
    session.flush()
    return [format_recovery(c) for c in codes]


def format_recovery(code: str) -> str:
    """ABCDEFGHJK → ABCDE-FGHJK."""
    return f"{code[:5]}-{code[5:]}"


def _recovery_hmac(settings: OnboardingSettings, customer: PortalAccount, code: str) -> str:
    return tokens.code_hmac(settings.secret_key, f"recovery:{customer.id}", tokens.normalize_code(code))


def recovery_left(session: so.Session, customer: PortalAccount) -> int:
    return (
        session.scalar(
            sa.select(sa.func.count()).where(RecoveryCode.customer_id == customer.id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )


def renew_recovery_codes(
    session: so.Session, customer: PortalAccount, code: str, settings: OnboardingSettings, now: datetime | None = None
) -> list[str]:
    """New recovery codes (the old ones end); needs a current code from the app. Throttled like the
    login's second step (issue #25 item 1)."""
    now = now or clock.now()
    if not customer.two_factor:
        raise TwoFactorError("Die Zwei-Faktor-Anmeldung ist nicht eingeschaltet.")
    policies = _claim_attempt(session, customer, settings, now)
    if _use_totp(session, customer, code, now, settings) != "ok":
        raise TwoFactorError("Der Code stimmt nicht oder wurde schon verwendet.", "code")
    throttle.succeeded(session, policies, reset=list(policies))
    return _new_recovery_codes(session, customer, settings, now)


def _claim_attempt(
    session: so.Session, customer: PortalAccount, settings: OnboardingSettings, now: datetime
) -> dict[str, throttle.Policy]:
    """The two-factor settings are guarded like the login (issue #25 item 1: someone holding a
    stolen session could guess the password and switch the second factor off): an attempt is
    claimed under the account's row lock and committed before anything is compared — the first
    TOTP_FREE_ATTEMPTS are evaluated, then growing delays, however many requests run at once."""
    policies = _policies(customer, settings)
    wait = throttle.claim(session, policies, now)
    session.commit()  # the attempt counts even when the request then fails
    if wait:
        raise TwoFactorError(throttle.wait_message(wait), "code")
    return policies


def disable(
    session: so.Session,
    customer: PortalAccount,
    password: str,
    code: str,
    settings: OnboardingSettings,
    now: datetime | None = None,
) -> None:
    """Switch off: with the password and a current code (or a recovery code)."""
    now = now or clock.now()
    if not customer.two_factor:
        raise TwoFactorError("Die Zwei-Faktor-Anmeldung ist nicht eingeschaltet.")
    policies = _claim_attempt(session, customer, settings, now)
    if not verify_password(customer.password_hash, password):
        raise TwoFactorError("Das Passwort ist falsch.", "passwort")
    if _use_code(session, customer, code, now, settings) not in ("ok", "recovery"):
        raise TwoFactorError("Der Code stimmt nicht oder wurde schon verwendet.", "code")
    throttle.succeeded(session, policies, reset=list(policies))
    _clear(session, customer)
    record(session, "two_factor_disabled", customer)
    _notify(session, customer, "ausgeschaltet")


def _clear(session: so.Session, customer: PortalAccount) -> None:
    customer.totp_secret = customer.totp_enabled_at = customer.totp_last_step = None
    session.execute(sa.delete(RecoveryCode).where(RecoveryCode.customer_id == customer.id))
    session.flush()


# --- login ----------------------------------------------------------------------------------------------


def _use_totp(
    session: so.Session, customer: PortalAccount, code: str, now: datetime, settings: OnboardingSettings
) -> str:
    """ok / wrong / replayed — the step moves on in one atomic UPDATE (a code counts once)."""
    assert customer.totp_secret is not None
    step = _matching_step(plain_secret(customer, settings), code, now, settings, customer)
    if step is None:
        return "wrong"
    moved = session.execute(
        sa.update(PortalAccount)
        .where(
            PortalAccount.id == customer.id,
            sa.or_(PortalAccount.totp_last_step.is_(None), PortalAccount.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .returning(PortalAccount.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if moved is None:
        return "replayed"
    customer.totp_last_step = step  # what the database now holds
    return "ok"


def _use_code(
    session: so.Session, customer: PortalAccount, code: str, now: datetime, settings: OnboardingSettings
) -> str:
    """A 6-digit TOTP code, or else a recovery code (used once: one atomic UPDATE)."""
    if sum(ch in ASCII_DIGITS for ch in code) == 6 and not any(ch.isalpha() for ch in code):
        return _use_totp(session, customer, code, now, settings)
    used = session.execute(
        sa.update(RecoveryCode)
        .where(
            RecoveryCode.customer_id == customer.id,
            RecoveryCode.code_hmac == _recovery_hmac(settings, customer, code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .returning(RecoveryCode.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    return "recovery" if used is not None else "wrong"


@dataclass(frozen=True)
class Check:
    """status: ok, recovery (a recovery code was used), wrong, replayed, wait (wait_seconds)."""

    status: str
    wait_seconds: int = 0
    recovery_left: int = 0


def _policies(customer: PortalAccount, settings: OnboardingSettings) -> dict[str, throttle.Policy]:
    return {
        f"account:second-factor:customer:{customer.id}": throttle.Policy(
            settings.totp_free_attempts,
            settings.totp_delay_seconds,
            settings.totp_max_delay_seconds,
            timedelta(hours=settings.totp_window_hours),
        )
    }


def check_login(
    session: so.Session,
    customer: PortalAccount,
    code: str,
    settings: OnboardingSettings,
    client_address: str | None = None,
    now: datetime | None = None,
) -> Check:
    """The second step of the login. The attempt is claimed (and committed) before the code is
    compared; a right code takes it back."""
    now = now or clock.now()
    policies = _policies(customer, settings)
    wait = throttle.claim(session, policies, now)
    session.commit()
    if wait:
        return Check("wait", wait)
    status = _use_code(session, customer, code, now, settings) if customer.two_factor else "wrong"
    if status in ("ok", "recovery"):
        throttle.succeeded(session, policies, reset=list(policies))
        customer.last_login_at = now
        record(session, "recovery_code_used" if status == "recovery" else "customer_login", customer, client_address)
        left = recovery_left(session, customer)
        session.commit()
        return Check(status, recovery_left=left)
    record(session, "two_factor_failed", customer, client_address, why=status)
    session.commit()
    return Check(status)


# --- back office ------------------------------------------------------------------------------------------


def reset_by_backoffice(session: so.Session, user: User, customer: PortalAccount, check: str, note: str) -> None:
    """Switch it off for a customer who lost his phone and codes — on a verified request, audited
    with how it was verified."""
    if check not in RESET_CHECKS:
        raise TwoFactorError("Bitte wählen Sie, wie die Anfrage geprüft wurde.", "pruefung")
    note = " ".join(note.split())
    if len(note) > 500:
        raise TwoFactorError("Die Bemerkung darf höchstens 500 Zeichen lang sein.", "bemerkung")
    session.refresh(customer, with_for_update=True)
    if not customer.two_factor:
        raise TwoFactorError("Für diesen Kunden ist die Zwei-Faktor-Anmeldung nicht eingeschaltet.")
    _clear(session, customer)
    contract = newest_contract(session, customer)
    audit.record(
        session,
        "two_factor_reset",
        actor=user,
        agency_id=contract.agency_id if contract else None,
        object_type="contract" if contract else None,
        object_id=contract.public_id if contract else None,
        details={"customer": customer.email, "verified_by": RESET_CHECKS[check], "note": note},
    )
    _notify(session, customer, "vom Innendienst zurückgesetzt")


def _notify(session: so.Session, customer: PortalAccount, what: str) -> None:
    """Every change of the login's protection is told to the customer by e-mail."""
    contract = newest_contract(session, customer)
    outbox.enqueue_email(
        session,
        key=f"two-factor:{customer.public_id}:{what}:{clock.now().timestamp()}",
        to=customer.email,
        subject=f"Zwei-Faktor-Anmeldung {what}",
        template="two_factor_changed",
        context={"customer": customer, "what": what, "at": clock.now()},
        related=("contract", contract.public_id if contract else ""),
        agency_id=contract.agency_id if contract else None,
    )
