"""Staff accounts: agencies, users and their roles."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from email_validator import EmailNotValidError, validate_email

from core import clock, sessions
from core.contact import ContactError, normalize_phone
from core.db import Base, new_public_id
from core.passwords import PasswordRule, hash_password, needs_rehash, verify_password


class Role(enum.StrEnum):
    BROKER = "vermittler"
    MANAGER = "agenturleiter"
    BACKOFFICE = "innendienst"

    @property
    def label(self) -> str:
        return {"vermittler": "Vermittler", "agenturleiter": "Agenturleiter", "innendienst": "Innendienst"}[self.value]


class Agency(Base):
    __tablename__ = "agencies"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    # Vermittlernummer: the insurer's number for the agency
    broker_number: so.Mapped[str] = so.mapped_column(sa.String(20), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)

    users: so.Mapped[list[User]] = so.relationship(back_populates="agency")

    def __repr__(self) -> str:
        return f"<Agency {self.broker_number} {self.name!r}>"


class User(Base):
    """A staff member: broker, agency manager (both belong to an agency) or back office."""

    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint("(role = 'innendienst') OR (agency_id IS NOT NULL)", name="agency_staff_have_agency"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    email: so.Mapped[str] = so.mapped_column(sa.String(254), unique=True)
    full_name: so.Mapped[str] = so.mapped_column(sa.String(200))
    role: so.Mapped[Role]
    agency_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("agencies.id"), index=True)
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(255))
    is_active: so.Mapped[bool] = so.mapped_column(default=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    last_login_at: so.Mapped[datetime | None]
    # the broker's phone, shown to his customers in the portal ("Ihr Vermittler")
    phone: so.Mapped[str | None] = so.mapped_column(sa.String(30))

    agency: so.Mapped[Agency | None] = so.relationship(back_populates="users")

    # Flask-Login protocol
    is_authenticated = True
    is_anonymous = False
    is_customer = False
    # the token of the login session this object was loaded for (core.sessions); not a column
    login_token: str = ""

    def get_id(self) -> str:
        return f"staff:{self.login_token}"

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role.value}>"


class AccountError(ValueError):
    """Invalid data for an account; the message is German and meant for the user."""


def login_key(email: str) -> str:
    """A typed login as accounts store it: trimmed, lower-cased — not validated (a login attempt may
    be anything; core.contact.normalize_email checks addresses we write to)."""
    return email.strip().lower()


def create_agency(session: so.Session, *, name: str, broker_number: str) -> Agency:
    """Create an agency; the Vermittlernummer must be unique."""
    name, broker_number = name.strip(), broker_number.strip()
    if not name or not broker_number:
        raise AccountError("Name und Vermittlernummer sind Pflichtangaben.")
    if session.scalar(sa.select(Agency).where(Agency.broker_number == broker_number)):
        raise AccountError(f"Die Vermittlernummer {broker_number} ist bereits vergeben.")
    agency = Agency(name=name, broker_number=broker_number)
    session.add(agency)
    session.flush()
    return agency


def create_user(
    session: so.Session,
    *,
    email: str,
    full_name: str,
    role: Role,
    password: str,
    agency: Agency | None,
    rule: PasswordRule,
    phone: str | None = None,
) -> User:
    """Create a staff user after checking e-mail, role/agency and the password rule."""
    try:
        email = validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise AccountError("Bitte geben Sie eine gültige E-Mail-Adresse ein.") from exc
    if not full_name.strip():
        raise AccountError("Bitte geben Sie den Namen an.")
    if role is Role.BACKOFFICE and agency is not None:
        raise AccountError("Innendienst-Mitarbeiter gehören zu keiner Agentur.")
    if role is not Role.BACKOFFICE and agency is None:
        raise AccountError("Vermittler und Agenturleiter gehören zu einer Agentur.")
    if session.scalar(sa.select(User.id).where(User.email == email)):
        raise AccountError(f"Es gibt bereits einen Benutzer mit der E-Mail-Adresse {email}.")
    problems = rule.problems(password, email)
    if problems:
        raise AccountError(" ".join(problems))
    if phone:
        try:
            phone = normalize_phone(phone)
        except ContactError as exc:
            raise AccountError("Bitte geben Sie eine gültige Telefonnummer ein.") from exc
    user = User(
        email=email,
        full_name=full_name.strip(),
        role=role,
        agency=agency,
        password_hash=hash_password(password),
        phone=phone or None,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: so.Session, email: str, password: str) -> User | None:
    """The active user with these credentials, or None; the same work for unknown e-mails."""
    user = session.scalar(sa.select(User).where(User.email == login_key(email)))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = clock.now()
    return user


def load_by_login_token(session: so.Session, token: str, policy: sessions.Policy) -> User | None:
    """The active user of a live login session (core.sessions), or None."""
    return sessions.load(session, "staff", User, token, policy)


def change_password(
    session: so.Session, user: User, current: str, new: str, repeated: str, rule: PasswordRule
) -> dict[str, list[str]]:
    """A staff user's own password change; returns German errors per field (empty: done). Every
    session of the user ends (the caller starts a fresh one for this browser)."""
    if not verify_password(user.password_hash, current):
        return {"aktuelles_passwort": ["Das aktuelle Passwort ist nicht richtig."]}
    errors: dict[str, list[str]] = {}
    problems = rule.problems(new, user.email)
    if problems:
        errors["passwort"] = problems
    if new != repeated:
        errors["passwort2"] = ["Keine Übereinstimmung."]
    if errors:
        return errors
    user.password_hash = hash_password(new)
    sessions.end_all(session, "staff", user.id)
    return {}


def team_of(session: so.Session, user: User) -> list[User]:
    """The staff of the user's agency, by role and name."""
    return list(
        session.scalars(sa.select(User).where(User.agency_id == user.agency_id).order_by(User.role, User.full_name))
    )


def active_counts(session: so.Session) -> dict[str, int]:
    """Agencies and active staff users (the back office's start page)."""
    return {
        "agencies": session.scalar(sa.select(sa.func.count()).select_from(Agency)) or 0,
        "users": session.scalar(sa.select(sa.func.count()).select_from(User).where(User.is_active.is_(True))) or 0,
    }
