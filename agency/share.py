"""The digital share of the stock: now (contracts) and at each of the last twelve month ends — one
`UNION ALL` statement over the stock's entries/ends and the digital intervals from the audit trail's
portal events (`ENTER`: the contract became digital; `LEAVE`: it stopped being so), `LEAD()` per
contract, bucketed by Berlin month ends; closed months come from `share_snapshots` (agency.snapshots)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from babel.dates import format_date

from agency.models import ShareSnapshot
from agency.period import Scope, midnight
from contracts.models import Contract, Delivery
from core import clock
from core.audit import PORTAL_ENTER, PORTAL_EVENTS_SQL, PORTAL_LEAVE, AuditEntry
from core.users import Agency

ENTER, LEAVE = PORTAL_ENTER, PORTAL_LEAVE
MONTHS = 12


# --- the digital share now -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Share:
    digital: int
    running: int

    @property
    def percent(self) -> float | None:
        return 100.0 * self.digital / self.running if self.running else None


def running(day: date) -> sa.ColumnElement[bool]:
    return sa.or_(Contract.ends_on.is_(None), Contract.ends_on > day)


def digital() -> sa.ColumnElement[bool]:
    return sa.and_(Contract.delivery == Delivery.PORTAL, Contract.onboarding_state == "active")


def share_now(session: so.Session, scope: Scope) -> Share:
    """Contracts on portal delivery whose customer activated the portal ÷ all running contracts."""
    row = session.execute(
        scope.contracts(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(sa.case((digital(), 1), else_=0)), 0),
            ).where(running(clock.today()))
        )
    ).one()
    return Share(digital=int(row[1]), running=int(row[0]))


# --- the digital share per month ---------------------------------------------------------------------


@dataclass(frozen=True)
class MonthPoint:
    label: str  # "Okt. 2026", the last one "Nov. 2026 (heute)"
    at: datetime
    share: Share


def month_points(now: datetime) -> list[tuple[str, datetime]]:
    """The ends of the last eleven months (1st of the next month, 00:00 Berlin) and now."""
    local = now.astimezone(clock.TIMEZONE).date().replace(day=1)
    points = []
    for back in range(MONTHS - 1, 0, -1):
        first = _shift_month(local, -back)
        points.append((format_date(first, "MMM yyyy", locale="de_DE"), midnight(_shift_month(first, 1))))
    points.append((format_date(local, "MMM yyyy", locale="de_DE") + " (heute)", now))
    return points


def _shift_month(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _bucket(column: Any, bounds: Sequence[Any]) -> sa.Case[Any]:
    """Index of the first boundary the value is at or before; len(bounds) for later values."""
    return sa.case(*((column <= b, i) for i, b in enumerate(bounds)), else_=len(bounds))


def shares_at(session: so.Session, scope: Scope, instants: list[datetime]) -> dict[int, list[Share]]:
    """The share per agency at each of the given instants (ascending), in one statement with one
    pass over each source: every contract as the interval it is in the stock (policed or imported →
    ended) and every interval in which it was digital (an ENTER event → the contract's next portal
    event or its end), each reduced to (bucket it starts in, bucket it ends in) and counted per pair
    and agency. A point counts the intervals that started at or before it and end after it."""
    if not instants:
        return {}
    # a contract ending on day d no longer runs on d: the Berlin day of each point
    days = [at.astimezone(clock.TIMEZONE).date() for at in instants]
    never = len(instants)  # the bucket of "later" and of NULL (no end)
    stock = scope.contracts(
        sa.select(
            sa.literal_column("'stock'").label("series"),
            Contract.agency_id.label("agency"),
            _bucket(Contract.policed_at, instants).label("starts"),
            _bucket(Contract.ends_on, days).label("ends"),
            sa.func.count().label("n"),
        )
    ).group_by(Contract.agency_id, sa.literal_column("starts"), sa.literal_column("ends"))
    # every portal event of a contract with the time of the contract's next one; at the same instant
    # a LEAVE comes first (a switch to the portal of an active customer: switched, then in the portal)
    leave_first = sa.case((AuditEntry.action.in_(LEAVE), 0), else_=1)
    events = sa.select(
        AuditEntry.agency_id,
        AuditEntry.object_id,
        AuditEntry.action,
        AuditEntry.at,
        sa.func.lead(AuditEntry.at)
        .over(partition_by=AuditEntry.object_id, order_by=(AuditEntry.at, leave_first, AuditEntry.id))
        .label("next_at"),
    ).where(sa.text(PORTAL_EVENTS_SQL))  # literally the partial index's condition: it reads only the index
    if scope.agency_id is not None:
        events = events.where(AuditEntry.agency_id == scope.agency_id)
    ev = events.subquery()
    # the interval also ends with the contract: only ended contracts matter (ix_contracts_ended)
    ended = scope.contracts(sa.select(Contract.public_id, Contract.ends_on).where(Contract.ends_on.is_not(None)))
    ends = ended.subquery()
    by_event, by_contract = _bucket(ev.c.next_at, instants), _bucket(ends.c.ends_on, days)
    digital = (
        sa.select(
            sa.literal_column("'digital'"),
            ev.c.agency_id,
            _bucket(ev.c.at, instants).label("starts"),
            sa.case((by_event <= by_contract, by_event), else_=by_contract).label("ends"),
            sa.func.count(),
        )
        .select_from(ev)
        .outerjoin(ends, ends.c.public_id == ev.c.object_id)
        .where(ev.c.action.in_(ENTER))
        .group_by(ev.c.agency_id, sa.literal_column("starts"), sa.literal_column("ends"))
    )
    if scope.owner_id is not None:  # one broker's: his contracts' events only
        owned = sa.select(Contract.public_id).where(Contract.owner_id == scope.owner_id)
        digital = digital.where(ev.c.object_id.in_(owned))
    counted: dict[int, dict[str, list[int]]] = {}
    for series, agency, starts, ended_in, n in session.execute(sa.union_all(stock, digital)):
        per = counted.setdefault(agency, {"stock": [0] * never, "digital": [0] * never})
        for k in range(int(starts), int(ended_in if ended_in is not None else never)):
            per[series][k] += int(n)
    return {
        agency: [Share(digital=per["digital"][k], running=per["stock"][k]) for k in range(never)]
        for agency, per in counted.items()
    }


def _sum(shares: list[Share]) -> Share:
    return Share(digital=sum(x.digital for x in shares), running=sum(x.running for x in shares))


def share_by_month(session: so.Session, scope: Scope, now_share: Share | None = None) -> list[MonthPoint]:
    """The digital share at the end of each of the last twelve months (the current one: now).
    Closed months come from the snapshots (`close_months`), any month without one — and the
    current one — is computed from the audit trail (`shares_at`); `now_share`, when the caller has
    it already (the per-broker figures), is the current point."""
    now = clock.now()
    points = month_points(now)
    closed = [month_of(at) for _, at in points[:-1]]
    known: dict[date, Share] = {}
    if scope.owner_id is None:
        stmt = sa.select(
            ShareSnapshot.month, sa.func.sum(ShareSnapshot.running), sa.func.sum(ShareSnapshot.digital), sa.func.count()
        ).where(ShareSnapshot.month.in_(closed))
        if scope.agency_id is not None:
            stmt = stmt.where(ShareSnapshot.agency_id == scope.agency_id)
        agencies = 1 if scope.agency_id is not None else session.scalar(sa.select(sa.func.count()).select_from(Agency))
        for month, running, digital, n in session.execute(stmt.group_by(ShareSnapshot.month)):
            if n == agencies:  # every agency's month is closed: their sum is the figure
                known[month] = Share(digital=int(digital), running=int(running))
    wanted = [at for i, (_, at) in enumerate(points[:-1]) if closed[i] not in known]
    if now_share is None:
        wanted.append(points[-1][1])
    live: dict[datetime, Share] = {}
    if wanted:
        per_agency = shares_at(session, scope, wanted)
        live = {at: _sum([shares[k] for shares in per_agency.values()]) for k, at in enumerate(wanted)}
    result = [
        MonthPoint(label=label, at=at, share=known[closed[i]] if closed[i] in known else live[at])
        for i, (label, at) in enumerate(points[:-1])
    ]
    label, at = points[-1]
    result.append(MonthPoint(label=label, at=at, share=now_share if now_share is not None else live[at]))
    return result


def month_of(end: datetime) -> date:
    """The first day of the month that ends at `end` (00:00 Berlin of the next month's first)."""
    return (end - timedelta(hours=12)).astimezone(clock.TIMEZONE).date().replace(day=1)
