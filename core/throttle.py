"""Login throttling with growing delays (NIST SP 800-63B § 5.2.2), never a hard lock.

Each key (an account, a client address) has a count of consecutive failures. The first ``free``
ones cost nothing; after that every further attempt must wait ``base × 2^(n − free)`` seconds,
capped at ``max_seconds``, so an outsider can slow an account down by at most that cap but never
lock its owner out. Failures older than ``window`` are forgotten.

An attempt is claimed *before* the password is checked, under a row lock (SELECT … FOR UPDATE on
PostgreSQL; SQLite serialises writers), and counted as a failure at once: of any number of
parallel attempts at most ``free`` are evaluated before the first delay. A successful login takes
its attempt back. The claim is committed by the caller before the (slow) password check, so the
lock is held only for a few statements.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql, sqlite

from core import clock
from core.db import Base


class LoginThrottle(Base):
    __tablename__ = "login_throttles"

    key: so.Mapped[str] = so.mapped_column(sa.String(300), primary_key=True)
    failures: so.Mapped[int] = so.mapped_column(default=0)
    blocked_until: so.Mapped[datetime | None]
    last_failure_at: so.Mapped[datetime | None]


@dataclass(frozen=True)
class Policy:
    free: int  # failures without any delay
    base_seconds: int  # the first delay after the free failures; doubles with every further one
    max_seconds: int  # cap of the delay
    window: timedelta  # failures older than this are forgotten

    def delay(self, failures: int) -> int:
        if failures < self.free:
            return 0
        return int(min(self.base_seconds * 2 ** min(failures - self.free, 30), self.max_seconds))


def _ensure_rows(session: so.Session, keys: Sequence[str]) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(LoginThrottle).values([{"key": k, "failures": 0} for k in keys])
    session.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))


def _locked(session: so.Session, keys: Sequence[str]) -> list[LoginThrottle]:
    _ensure_rows(session, keys)
    return list(
        session.scalars(
            sa.select(LoginThrottle)
            .where(LoginThrottle.key.in_(keys))
            .order_by(LoginThrottle.key)  # one lock order for every caller: no deadlocks
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def claim(session: so.Session, policies: dict[str, Policy], now: datetime | None = None) -> int:
    """Claim one attempt for every key. Returns 0 when the attempt may go ahead (it is counted as a
    failure already), otherwise the seconds to wait (nothing is counted). The caller commits."""
    now = now or clock.now()
    rows = _locked(session, sorted(policies))
    waits = [
        math.ceil((row.blocked_until - now).total_seconds())
        for row in rows
        if row.blocked_until is not None and row.blocked_until > now
    ]
    if waits:
        return max(waits)
    for row in rows:
        policy = policies[row.key]
        if row.last_failure_at is not None and now - row.last_failure_at > policy.window:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        delay = policy.delay(row.failures)
        row.blocked_until = now + timedelta(seconds=delay) if delay else None
    session.flush()
    return 0


def succeeded(session: so.Session, policies: dict[str, Policy], *, reset: Sequence[str] = ()) -> None:
    """The claimed attempt was a successful login: keys in ``reset`` (the account) start from zero,
    the others (the address) only get this attempt back. The caller commits."""
    for row in _locked(session, sorted(policies)):
        if row.key in reset:
            row.failures, row.blocked_until = 0, None
        else:
            row.failures = max(row.failures - 1, 0)
            if policies[row.key].delay(row.failures) == 0:
                row.blocked_until = None
    session.flush()


def minutes(seconds: int) -> str:
    """A wait in whole minutes, rounded up, as German text: "1 Minute", "5 Minuten"."""
    count = max(1, math.ceil(seconds / 60))
    return f"{count} {'Minute' if count == 1 else 'Minuten'}"


def wait_message(seconds: int) -> str:
    if seconds >= 90:
        minutes = math.ceil(seconds / 60)
        return f"Zu viele Fehlversuche. Bitte warten Sie {minutes} Minuten und versuchen Sie es dann erneut."
    unit = "Sekunde" if seconds == 1 else "Sekunden"
    return f"Zu viele Fehlversuche. Bitte warten Sie {seconds} {unit} und versuchen Sie es dann erneut."


@dataclass(frozen=True)
class LoginLimits:
    """The LOGIN_* settings, read once at start-up: what a login use case needs, nothing more."""

    free_per_account: int = 5
    free_per_address: int = 30
    delay_seconds: int = 2
    max_delay_account_seconds: int = 60
    max_delay_address_seconds: int = 900
    window_hours: int = 24

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LoginLimits:
        return cls(
            free_per_account=config["LOGIN_FREE_ATTEMPTS_PER_ACCOUNT"],
            free_per_address=config["LOGIN_FREE_ATTEMPTS_PER_ADDRESS"],
            delay_seconds=config["LOGIN_DELAY_SECONDS"],
            max_delay_account_seconds=config["LOGIN_MAX_DELAY_ACCOUNT_SECONDS"],
            max_delay_address_seconds=config["LOGIN_MAX_DELAY_ADDRESS_SECONDS"],
            window_hours=config["LOGIN_FAILURE_WINDOW_HOURS"],
        )


def login_policies(limits: LoginLimits, account_key: str, address: str | None) -> dict[str, Policy]:
    """The two keys of a login attempt — the (normalised) account and the client address — with
    their policies."""
    window = timedelta(hours=limits.window_hours)
    base = limits.delay_seconds
    return {
        "account:" + account_key[:280]: Policy(limits.free_per_account, base, limits.max_delay_account_seconds, window),
        "address:" + (address or "unknown")[:280]: Policy(
            limits.free_per_address, base, limits.max_delay_address_seconds, window
        ),
    }


A = TypeVar("A")


@dataclass(frozen=True)
class LoginAttempt(Generic[A]):
    """The outcome of a throttled login: account logged in; wait_seconds > 0 throttled (the password
    was not checked); neither: wrong credentials."""

    account: A | None = None
    wait_seconds: int = 0
