"""Server-side login sessions: the cookie carries a random token, the database its SHA-256 hash.

A session ends on the server (logout, password change or reset, deactivation): a copied cookie
is worth nothing afterwards. Staff and customers share the mechanism, told apart by ``kind``.

The idle timeout lives here too (issue #28 item 2): the session row carries `last_seen_at`, written
at most once per `touch_every` (one guarded UPDATE at the start of a request), so the cookie need not
be signed anew on every response; a session not seen for `idle` is over."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

import flask
import flask_login
import sqlalchemy as sa
import sqlalchemy.orm as so

from core import clock, tokens
from core.db import Base


class LoginSession(Base):
    __tablename__ = "login_sessions"
    __table_args__ = (sa.Index("ix_login_sessions_account", "kind", "account_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(10))  # "staff" or "customer"
    account_id: so.Mapped[int]
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    last_seen_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    ended_at: so.Mapped[datetime | None]


@dataclass(frozen=True)
class Policy:
    """SESSION_IDLE_MINUTES and how often the last activity is written (SESSION_TOUCH_SECONDS)."""

    idle: timedelta = timedelta(minutes=60)
    touch_every: timedelta = timedelta(seconds=60)


def start(session: so.Session, kind: str, account_id: int) -> str:
    """A new session for the account; returns the token for the cookie (never stored)."""
    token = tokens.new_link_token()
    session.add(LoginSession(token_hash=tokens.token_hash(token), kind=kind, account_id=account_id))
    session.flush()
    return token


class Account(Protocol):
    id: int
    is_active: bool
    login_token: str


A = TypeVar("A", bound=Account)


@functools.cache
def _account_query(model: type[Account], kind: str) -> sa.Select[Any, int, datetime]:
    """Built once per account model: the statement runs on every request of a logged-in user, and
    building it costs more than SQLAlchemy's compiled-statement cache saves."""
    return (
        sa.select(model, LoginSession.id, LoginSession.last_seen_at)
        .join(LoginSession, sa.and_(LoginSession.account_id == model.id, LoginSession.kind == kind))
        .where(
            LoginSession.token_hash == sa.bindparam("token_hash"),
            LoginSession.ended_at.is_(None),
            model.is_active.is_(True),  # type: ignore[attr-defined]
        )
    )


def load(
    session: so.Session, kind: str, model: type[A], token: str, policy: Policy, now: datetime | None = None
) -> A | None:
    """The active account of a live session that was seen within the idle time, with the token it was
    loaded for (Flask-Login's id). One query per request (it runs on every request of a logged-in
    user); when the last activity is older than touch_every, the request notes the session for
    `touch` (flask.g.session_touch)."""
    row = session.execute(_account_query(model, kind), {"token_hash": tokens.token_hash(token)}).first()
    if row is None:
        return None
    account, session_id, last_seen = row
    now = now or clock.now()
    if last_seen <= now - policy.idle:
        return None  # idle too long: log in again
    if last_seen <= now - policy.touch_every and flask.has_request_context():
        flask.g.session_touch = session_id
    account.login_token = token
    result: A = account
    return result


def touch(session: so.Session, session_id: int, now: datetime, policy: Policy) -> None:
    """The session's last activity is now — one guarded UPDATE: of parallel requests of one browser
    at most one writes per touch_every."""
    session.execute(
        sa.update(LoginSession)
        .where(LoginSession.id == session_id, LoginSession.last_seen_at <= now - policy.touch_every)
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )


def end(session: so.Session, kind: str, token: str) -> None:
    session.execute(
        sa.update(LoginSession)
        .where(LoginSession.token_hash == tokens.token_hash(token), LoginSession.kind == kind)
        .values(ended_at=clock.now())
        .execution_options(synchronize_session=False)
    )


def end_all(session: so.Session, kind: str, account_id: int) -> None:
    """End every session of the account (password change or reset, deactivation)."""
    session.execute(
        sa.update(LoginSession)
        .where(LoginSession.kind == kind, LoginSession.account_id == account_id, LoginSession.ended_at.is_(None))
        .values(ended_at=clock.now())
        .execution_options(synchronize_session=False)
    )


def log_in(session: so.Session, kind: str, account: Account) -> None:
    """Log the account in for this browser: a new server-side session (committed together with what
    the caller did) and a fresh cookie for it (no session fixation)."""
    token = start(session, kind, account.id)
    session.commit()
    flask.session.clear()
    flask.session.permanent = True
    flask.session["login_at"] = clock.now().timestamp()
    account.login_token = token
    flask_login.login_user(account)
