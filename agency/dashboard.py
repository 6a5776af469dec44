"""The agency manager's figures (and the back office's across all agencies): the digital share of
the stock now and over the last twelve months, the onboarding funnel of a period, per broker (or
per agency), the median time to activation — and, for the click-through, the same conditions as a
filter of the Bestand, so a bar and its list are exactly the same contracts.

Everything is computed in SQL, one statement per figure, from what the product writes anyway: the
access links (sent, opened, used, expired, revoked), the access codes, the customer's activation,
the failed access-link e-mails of the outbox, and for the share over time the contract's portal
events of the audit trail (`ENTER`: the contract became digital; `LEAVE`: it stopped being so).
Time boundaries are German calendar days (Europe/Berlin) turned into UTC instants."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so
from babel.dates import format_date

from contracts.models import Contract, Delivery
from core import clock
from core.audit import AuditEntry
from core.csvsafe import to_csv
from core.db import seconds_between
from core.users import Agency, Role, User
from messaging.models import OutboxMessage
from messaging.models import State as MessageState
from onboarding.models import AccessCode, AccessLink, Customer

BERLIN = ZoneInfo("Europe/Berlin")
ENTER = ("portal_activated", "contract_in_portal")
LEAVE = ("contract_switched_to_post", "contract_switched_to_portal", "documents_sent_by_post")
MONTHS = 12


@dataclass(frozen=True)
class Settings:
    """From the config (core.config): the default period, the longest one, "waiting too long"."""

    default_days: int = 90
    max_years: int = 5
    waiting_days: int = 14


# --- scope and period ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Whose contracts: one agency (its manager), optionally one broker of it; None = all agencies."""

    agency_id: int | None
    owner_id: int | None = None

    def contracts(self, stmt: sa.Select[Any]) -> sa.Select[Any]:
        if self.agency_id is not None:
            stmt = stmt.where(Contract.agency_id == self.agency_id)
        if self.owner_id is not None:
            stmt = stmt.where(Contract.owner_id == self.owner_id)
        return stmt


def scope_for(user: User) -> Scope:
    """The manager sees his agency, the back office all agencies; a broker has no dashboard (the
    views refuse him before this is asked)."""
    if user.role is Role.BACKOFFICE:
        return Scope(None)
    if user.role is Role.MANAGER:
        return Scope(user.agency_id)
    raise PermissionError("no dashboard for this role")


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """[start 00:00, day after end 00:00) in Berlin, as UTC instants."""
        return _midnight(self.start), _midnight(self.end + timedelta(days=1))

    @property
    def label(self) -> str:
        return f"{_de(self.start)} – {_de(self.end)}"

    def args(self) -> dict[str, str]:
        return {"von": self.start.isoformat(), "bis": self.end.isoformat()}


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=BERLIN).astimezone(UTC)


def _de(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def today() -> date:
    return clock.now().astimezone(BERLIN).date()


def _parse_day(text: str) -> date | None:
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):  # <input type=date> sends ISO; typed by hand: German
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def parse_period(von: str, bis: str, settings: Settings, now: date | None = None) -> tuple[Period, dict[str, str]]:
    """The period asked for, or the default (the last `default_days` days up to today) with the
    German message for each wrong field. With errors the returned period is the default."""
    now = now or today()
    default = Period(now - timedelta(days=settings.default_days - 1), now)
    if not von.strip() and not bis.strip():
        return default, {}
    errors: dict[str, str] = {}
    start = _parse_day(von) if von.strip() else default.start
    end = _parse_day(bis) if bis.strip() else now
    if start is None:
        errors["von"] = "Bitte geben Sie den Beginn als Datum ein (TT.MM.JJJJ)."
    if end is None:
        errors["bis"] = "Bitte geben Sie das Ende als Datum ein (TT.MM.JJJJ)."
    if start is not None and end is not None:
        if end < start:
            errors["bis"] = "Das Ende des Zeitraums liegt vor seinem Beginn."
        elif _add_years(start, settings.max_years) <= end:
            errors["bis"] = f"Der Zeitraum darf höchstens {settings.max_years} Jahre lang sein."
    if errors or start is None or end is None:
        return default, errors
    return Period(start, end), {}


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


# --- the digital share now -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Share:
    digital: int
    running: int

    @property
    def percent(self) -> float | None:
        return 100.0 * self.digital / self.running if self.running else None


def _running(day: date) -> sa.ColumnElement[bool]:
    return sa.or_(Contract.ends_on.is_(None), Contract.ends_on > day)


def _digital() -> sa.ColumnElement[bool]:
    return sa.and_(Contract.delivery == Delivery.PORTAL, Contract.onboarding_state == "active")


def share_now(session: so.Session, scope: Scope) -> Share:
    """Contracts on portal delivery whose customer activated the portal ÷ all running contracts."""
    row = session.execute(
        scope.contracts(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(sa.case((_digital(), 1), else_=0)), 0),
            ).where(_running(today()))
        )
    ).one()
    return Share(digital=int(row[1]), running=int(row[0]))


# --- the digital share per month ---------------------------------------------------------------------


@dataclass(frozen=True)
class MonthPoint:
    label: str  # "Okt. 2026", the last one "Nov. 2026 (heute)"
    at: datetime
    share: Share


def _month_points(now: datetime) -> list[tuple[str, datetime]]:
    """The ends of the last eleven months (1st of the next month, 00:00 Berlin) and now."""
    local = now.astimezone(BERLIN).date().replace(day=1)
    points = []
    for back in range(MONTHS - 1, 0, -1):
        first = _shift_month(local, -back)
        points.append((format_date(first, "MMM yyyy", locale="de_DE"), _midnight(_shift_month(first, 1))))
    points.append((format_date(local, "MMM yyyy", locale="de_DE") + " (heute)", now))
    return points


def _shift_month(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _bucket(column: Any, bounds: Sequence[Any]) -> sa.Case[Any]:
    """Index of the first boundary the value is at or before; len(bounds) for later values."""
    return sa.case(*((column <= b, i) for i, b in enumerate(bounds)), else_=len(bounds))


def share_by_month(session: so.Session, scope: Scope) -> list[MonthPoint]:
    """The digital share at the end of each of the last twelve months (the current one: now), in
    one statement: every contract's entry into the stock (+1) and its end (−1), every interval in
    which it was digital — from an ENTER event to the contract's next portal event or its end —
    as +1 and −1, each put into the month it happened in; the running sums are the figures."""
    now = clock.now()
    points = _month_points(now)
    instants = [at for _, at in points]
    # a contract ending on day d no longer runs on d: the day of each point (the last one: today)
    days = [at.astimezone(BERLIN).date() for at in instants[:-1]] + [today()]
    stock_in = scope.contracts(
        sa.select(
            sa.literal_column("'stock'").label("series"),
            _bucket(Contract.policed_at, instants).label("bucket"),
            sa.literal_column("1").label("delta"),
        )
    )
    stock_out = scope.contracts(
        sa.select(sa.literal_column("'stock'"), _bucket(Contract.ends_on, days), sa.literal_column("-1")).where(
            Contract.ends_on.is_not(None)
        )
    )
    # every portal event of a contract with the time of the contract's next one; at the same instant
    # a LEAVE comes first (a switch to the portal of an active customer: switched, then in the portal)
    _leave_first = sa.case((AuditEntry.action.in_(LEAVE), 0), else_=1)
    events = sa.select(
        AuditEntry.object_id,
        AuditEntry.action,
        AuditEntry.at,
        sa.func.lead(AuditEntry.at)
        .over(partition_by=AuditEntry.object_id, order_by=(AuditEntry.at, _leave_first, AuditEntry.id))
        .label("next_at"),
    ).where(AuditEntry.action.in_(ENTER + LEAVE), AuditEntry.object_type == "contract")
    if scope.agency_id is not None:
        events = events.where(AuditEntry.agency_id == scope.agency_id)
    ev = events.subquery()
    end_by_event = _bucket(ev.c.next_at, instants)
    end_by_contract = _bucket(Contract.ends_on, days)
    interval_end = sa.case(
        (
            sa.and_(ev.c.next_at.is_not(None), Contract.ends_on.is_not(None)),
            sa.case((end_by_event <= end_by_contract, end_by_event), else_=end_by_contract),
        ),
        (ev.c.next_at.is_not(None), end_by_event),
        else_=end_by_contract,
    )

    def intervals(bucket: Any, delta: int) -> sa.Select[Any]:
        stmt = sa.select(sa.literal_column("'digital'"), bucket, sa.literal_column(str(delta))).select_from(ev)
        stmt = stmt.join(Contract, Contract.public_id == ev.c.object_id).where(ev.c.action.in_(ENTER))
        return scope.contracts(stmt)

    starts = intervals(_bucket(ev.c.at, instants), 1)
    ends = intervals(interval_end, -1).where(sa.or_(ev.c.next_at.is_not(None), Contract.ends_on.is_not(None)))
    union = sa.union_all(stock_in, stock_out, starts, ends).subquery()
    rows = session.execute(
        sa.select(union.c.series, union.c.bucket, sa.func.sum(union.c.delta)).group_by(union.c.series, union.c.bucket)
    ).all()
    sums: dict[str, list[int]] = {"stock": [0] * (len(points) + 1), "digital": [0] * (len(points) + 1)}
    for series, bucket, delta in rows:
        sums[series][int(bucket)] += int(delta)
    result, stock, digital = [], 0, 0
    for i, (label, at) in enumerate(points):
        stock += sums["stock"][i]
        digital += sums["digital"][i]
        result.append(MonthPoint(label=label, at=at, share=Share(digital=digital, running=stock)))
    return result


# --- the onboarding funnel -----------------------------------------------------------------------------

# (key, label) of the funnel's steps and outcomes; each is a 0/1 column of `_flags`, and the Bestand
# filter of a bar is the same column (`in_funnel`): the list behind a bar is exactly its contracts
STEPS = (
    ("versendet", "Link versendet"),
    ("geoeffnet", "Link geöffnet"),
    ("code", "Code versendet"),
    ("aktiviert", "aktiviert"),
)
OUTCOMES = (
    ("abgelaufen", "Link abgelaufen"),
    ("unzustellbar", "E-Mail unzustellbar"),
    ("post", "zurück auf Post"),
    ("offen", "noch offen"),
)
LOST = (  # who stopped after a step: the ones to remind
    ("nicht_geoeffnet", "Link nicht geöffnet"),
    ("ohne_code", "geöffnet, kein Code"),
    ("nicht_aktiviert", "Code erhalten, nicht aktiviert"),
)
FILTERS = dict(STEPS + OUTCOMES + LOST + (("wartend", "noch offen, Link älter als {days} Tage"),))


def _flags(scope: Scope, period: Period, settings: Settings, now: datetime) -> sa.Subquery:
    """One row per contract of the scope invited in the period (an access link created in it), with
    its progress to now over its links since the period's start — re-sent invitations count once.
    Steps are "reached at least": an activated customer did open a link and get a code."""
    start, end = period.bounds
    link = AccessLink
    has_code = sa.exists().where(AccessCode.link_id == link.id)
    per_contract = (
        sa.select(
            link.contract_id.label("contract_id"),
            sa.func.min(link.created_at).label("sent_at"),
            sa.func.max(link.created_at).label("last_sent_at"),
            sa.func.max(sa.case((link.opened_at.is_not(None), 1), else_=0)).label("opened"),
            sa.func.max(sa.case((has_code, 1), else_=0)).label("has_code"),
            sa.func.max(
                sa.case((sa.and_(link.used_at.is_(None), link.revoked_at.is_(None), link.expires_at > now), 1), else_=0)
            ).label("open_link"),
            sa.func.max(
                sa.case(
                    (sa.and_(link.used_at.is_(None), link.revoked_at.is_(None), link.expires_at <= now), 1), else_=0
                )
            ).label("expired_link"),
        )
        .where(link.created_at >= start)
        .group_by(link.contract_id)
        .having(sa.func.min(link.created_at) < end)
        .subquery()
    )
    p = per_contract.c
    activated = sa.and_(Customer.activated_at.is_not(None), Customer.activated_at >= p.sent_at)
    bounced = sa.exists().where(
        OutboxMessage.state == MessageState.FAILED,
        OutboxMessage.template == "access_link",
        OutboxMessage.related_type == "contract",
        OutboxMessage.related_id == Contract.public_id,
        OutboxMessage.created_at >= start,
    )
    a = sa.case((activated, 1), else_=0)
    code = sa.case((sa.or_(activated, sa.and_(p.opened == 1, p.has_code == 1)), 1), else_=0)
    opened = sa.case((sa.or_(activated, p.opened == 1), 1), else_=0)
    not_active = sa.not_(activated)
    is_bounced = sa.and_(not_active, bounced)
    is_expired = sa.and_(not_active, sa.not_(bounced), p.expired_link == 1)
    is_post = sa.and_(not_active, sa.not_(bounced), p.expired_link == 0, Contract.delivery == Delivery.POST)
    is_open = sa.and_(not_active, sa.not_(bounced), p.open_link == 1, Contract.delivery == Delivery.PORTAL)
    stale = sa.and_(is_open, p.last_sent_at < now - timedelta(days=settings.waiting_days))
    stmt = (
        sa.select(
            Contract.id.label("contract_id"),
            Contract.owner_id.label("owner_id"),
            Contract.agency_id.label("agency_id"),
            sa.literal_column("1").label("versendet"),
            opened.label("geoeffnet"),
            code.label("code"),
            a.label("aktiviert"),
            sa.case((is_expired, 1), else_=0).label("abgelaufen"),
            sa.case((is_bounced, 1), else_=0).label("unzustellbar"),
            sa.case((is_post, 1), else_=0).label("post"),
            sa.case((is_open, 1), else_=0).label("offen"),
            sa.case((stale, 1), else_=0).label("wartend"),
            sa.case((sa.and_(sa.not_(activated), p.opened == 0), 1), else_=0).label("nicht_geoeffnet"),
            sa.case((sa.and_(not_active, p.opened == 1, p.has_code == 0), 1), else_=0).label("ohne_code"),
            sa.case((sa.and_(not_active, p.opened == 1, p.has_code == 1), 1), else_=0).label("nicht_aktiviert"),
            sa.case((activated, seconds_between(Customer.activated_at, p.sent_at)), else_=None).label("seconds"),
        )
        .select_from(per_contract)
        .join(Contract, Contract.id == p.contract_id)
        .outerjoin(Customer, Customer.id == Contract.customer_account_id)
    )
    return scope.contracts(stmt).subquery()


@dataclass
class FunnelRow:
    """The funnel's figures of the whole scope or of one broker / agency."""

    key: str  # the broker's or agency's public id ("" for the total)
    name: str
    counts: dict[str, int] = field(default_factory=dict)
    median_seconds: float | None = None
    share: Share | None = None

    @property
    def sent(self) -> int:
        return self.counts.get("versendet", 0)

    def percent(self, key: str) -> float | None:
        return 100.0 * self.counts.get(key, 0) / self.sent if self.sent else None

    @property
    def median_days(self) -> float | None:
        return None if self.median_seconds is None else self.median_seconds / 86400


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    count: int
    of_sent: float | None  # % of the links sent
    lost: int | None  # how many of the previous step did not reach this one
    lost_percent: float | None


COUNTED = (*(k for k, _ in STEPS + OUTCOMES + LOST), "wartend")


def _counts(flags: sa.Subquery) -> list[Any]:
    return [sa.func.coalesce(sa.func.sum(flags.c[k]), 0).label(k) for k in COUNTED]


def funnel(session: so.Session, scope: Scope, period: Period, settings: Settings) -> FunnelRow:
    flags = _flags(scope, period, settings, clock.now())
    row = session.execute(sa.select(*_counts(flags))).one()
    total = FunnelRow(key="", name="Gesamt", counts={k: int(row._mapping[k]) for k in COUNTED})
    total.median_seconds = _medians(session, flags, None).get(None)
    return total


def steps(row: FunnelRow) -> list[Step]:
    """The funnel's bars with the share lost at each step."""
    result, previous = [], None
    for key, label in STEPS:
        count = row.counts.get(key, 0)
        lost = None if previous is None else previous - count
        lost_percent = None if previous in (None, 0) or lost is None else 100.0 * lost / previous
        result.append(Step(key, label, count, row.percent(key), lost, lost_percent))
        previous = count
    return result


def outcomes(row: FunnelRow) -> list[Step]:
    return [Step(k, label, row.counts.get(k, 0), row.percent(k), None, None) for k, label in OUTCOMES]


def _medians(session: so.Session, flags: sa.Subquery, group: str | None) -> dict[Any, float]:
    """Median seconds from the first link to activation, per group column (or overall): the middle
    row (or the mean of the two middle rows) by ROW_NUMBER — the same on PostgreSQL and SQLite."""
    partition = [flags.c[group]] if group else []
    ranked = (
        sa.select(
            (flags.c[group] if group else sa.literal_column("NULL")).label("grp"),
            flags.c.seconds,
            sa.func.row_number().over(partition_by=partition, order_by=flags.c.seconds).label("rn"),
            sa.func.count().over(partition_by=partition).label("n"),
        )
        .where(flags.c.aktiviert == 1)
        .subquery()
    )
    rows = session.execute(
        sa.select(ranked.c.grp, sa.func.avg(ranked.c.seconds))
        .where(ranked.c.rn.in_([(ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2]))
        .group_by(ranked.c.grp)
    ).all()
    return {grp: float(value) for grp, value in rows}


def by_broker(session: so.Session, scope: Scope, period: Period, settings: Settings) -> list[FunnelRow]:
    """The funnel per broker of the agency (every broker, also those without invitations), with his
    digital share now and his median time to activation."""
    return _grouped(session, scope, period, settings, "owner_id")


def by_agency(session: so.Session, period: Period, settings: Settings) -> list[FunnelRow]:
    """The back office's table: the same per agency, across all agencies."""
    return _grouped(session, Scope(None), period, settings, "agency_id")


def _grouped(session: so.Session, scope: Scope, period: Period, settings: Settings, group: str) -> list[FunnelRow]:
    flags = _flags(scope, period, settings, clock.now())
    counted = {
        row._mapping[group]: {k: int(row._mapping[k]) for k in COUNTED}
        for row in session.execute(sa.select(flags.c[group], *_counts(flags)).group_by(flags.c[group]))
    }
    medians = _medians(session, flags, group)
    column = Contract.owner_id if group == "owner_id" else Contract.agency_id
    shares = {
        key: Share(digital=int(digital), running=int(running))
        for key, running, digital in session.execute(
            scope.contracts(
                sa.select(column, sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((_digital(), 1), else_=0)), 0))
                .where(_running(today()))
                .group_by(column)
            )
        )
    }
    if group == "owner_id":
        people = sa.select(User.id, User.public_id, User.full_name).where(
            User.agency_id == scope.agency_id, User.role.in_((Role.BROKER, Role.MANAGER))
        )
        if scope.owner_id is not None:
            people = people.where(User.id == scope.owner_id)
        who = [(i, p, n) for i, p, n in session.execute(people.order_by(User.full_name))]
    else:
        who = [
            (i, p, n)
            for i, p, n in session.execute(sa.select(Agency.id, Agency.public_id, Agency.name).order_by(Agency.name))
        ]
    rows = []
    for ident, public_id, name in who:
        if ident not in counted and ident not in shares:
            continue  # nobody to show: no contracts, no invitations
        rows.append(
            FunnelRow(
                key=public_id,
                name=name,
                counts=counted.get(ident, dict.fromkeys(COUNTED, 0)),
                median_seconds=medians.get(ident),
                share=shares.get(ident, Share(0, 0)),
            )
        )
    return rows


SORTS = {
    "name": lambda r: r.name.casefold(),
    "versendet": lambda r: r.sent,
    "aktiviert": lambda r: r.counts.get("aktiviert", 0),
    "quote": lambda r: r.percent("aktiviert") if r.percent("aktiviert") is not None else -1.0,
    "offen": lambda r: r.counts.get("offen", 0),
    "anteil": lambda r: r.share.percent if r.share and r.share.percent is not None else -1.0,
    "median": lambda r: r.median_seconds if r.median_seconds is not None else float("inf"),
}


def sort_rows(rows: list[FunnelRow], key: str, descending: bool) -> list[FunnelRow]:
    """The table's order (a column header's link); unknown keys fall back to the name."""
    return sorted(rows, key=SORTS.get(key, SORTS["name"]), reverse=descending)


def in_funnel(scope: Scope, period: Period, settings: Settings, step: str) -> sa.ColumnElement[bool]:
    """The Bestand's filter behind a bar or a row: exactly the contracts the bar counts."""
    if step not in FILTERS:
        raise KeyError(step)
    flags = _flags(scope, period, settings, clock.now())
    return Contract.id.in_(sa.select(flags.c.contract_id).where(flags.c[step] == 1))


# --- the outbox, for the back office ---------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxHealth:
    queued: int  # waiting for (another) delivery attempt or being sent
    failed: int
    oldest_waiting: datetime | None


def outbox_health(session: so.Session) -> OutboxHealth:
    waiting = OutboxMessage.state.in_((MessageState.PENDING, MessageState.SENDING))
    row = session.execute(
        sa.select(
            sa.func.count().filter(waiting),
            sa.func.count().filter(OutboxMessage.state == MessageState.FAILED),
            sa.func.min(OutboxMessage.created_at).filter(waiting),
        ).where(OutboxMessage.state.in_((MessageState.PENDING, MessageState.SENDING, MessageState.FAILED)))
    ).one()
    return OutboxHealth(queued=int(row[0]), failed=int(row[1]), oldest_waiting=row[2])


# --- the whole page ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    scope: Scope
    period: Period
    share: Share
    months: list[MonthPoint]
    total: FunnelRow | None  # None: the period asked for was wrong (its message is shown instead)
    rows: list[FunnelRow]  # per broker (manager) or per agency (back office)
    sort: str
    descending: bool
    settings: Settings
    health: OutboxHealth | None  # the back office's

    @property
    def steps(self) -> list[Step]:
        return steps(self.total) if self.total else []

    @property
    def outcomes(self) -> list[Step]:
        return outcomes(self.total) if self.total else []

    @property
    def per_agency(self) -> bool:
        return self.scope.agency_id is None

    def share_chart(self) -> dict[str, Any]:
        """The data of the monthly chart (Chart.js via static/js/charts.js)."""
        values = [None if m.share.percent is None else round(m.share.percent, 1) for m in self.months]
        return {
            "kind": "line",
            "label": "Digitalquote (%)",
            "unit": "%",
            "labels": [m.label for m in self.months],
            "values": values,
        }

    def funnel_chart(self, links: list[str]) -> dict[str, Any]:
        bars = self.steps + self.outcomes
        return {
            "kind": "funnel",
            "label": "Verträge",
            "labels": [b.label for b in bars],
            "values": [b.count for b in bars],
            "steps": len(self.steps),
            "links": links,
        }


def overview(
    session: so.Session,
    user: User,
    period: Period,
    settings: Settings,
    *,
    period_ok: bool = True,
    sort: str = "name",
    descending: bool = False,
) -> Overview:
    """Everything on the dashboard of this user (a manager: his agency; the back office: all)."""
    scope = scope_for(user)
    total = funnel(session, scope, period, settings) if period_ok else None
    if not period_ok:
        rows: list[FunnelRow] = []
    elif scope.agency_id is None:
        rows = by_agency(session, period, settings)
    else:
        rows = by_broker(session, scope, period, settings)
    return Overview(
        scope=scope,
        period=period,
        share=share_now(session, scope),
        months=share_by_month(session, scope),
        total=total,
        rows=sort_rows(rows, sort, descending),
        sort=sort if sort in SORTS else "name",
        descending=descending,
        settings=settings,
        health=outbox_health(session) if scope.agency_id is None else None,
    )


def funnel_csv(view: Overview) -> str:
    """The funnel and the table as CSV (formula cells escaped by core.csvsafe)."""
    header = ["Zeitraum", "Schritt", "Verträge", "Anteil an versendeten Links (%)", "Verloren zum vorigen Schritt"]
    rows: list[list[Any]] = []
    for step in view.steps + view.outcomes:
        rows.append(
            [view.period.label, step.label, step.count, _pct(step.of_sent), "" if step.lost is None else step.lost]
        )
    return to_csv(header, rows)


def table_csv(view: Overview) -> str:
    who = "Agentur" if view.per_agency else "Vermittler"
    header = [
        who,
        "Link versendet",
        "Link geöffnet",
        "Code versendet",
        "aktiviert",
        "Aktivierungsquote (%)",
        "Link abgelaufen",
        "E-Mail unzustellbar",
        "zurück auf Post",
        "noch offen",
        "Median bis Aktivierung (Tage)",
        "Laufende Verträge",
        "davon digital",
        "Digitalquote (%)",
    ]
    rows = []
    for r in view.rows:
        c = r.counts
        share = r.share or Share(0, 0)
        rows.append(
            [
                r.name,
                c["versendet"],
                c["geoeffnet"],
                c["code"],
                c["aktiviert"],
                _pct(r.percent("aktiviert")),
                c["abgelaufen"],
                c["unzustellbar"],
                c["post"],
                c["offen"],
                "" if r.median_days is None else f"{r.median_days:.1f}".replace(".", ","),
                share.running,
                share.digital,
                _pct(share.percent),
            ]
        )
    return to_csv(header, rows)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}".replace(".", ",")
