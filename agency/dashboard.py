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
from typing import Any, TypeVar

import sqlalchemy as sa
import sqlalchemy.orm as so
from babel.dates import format_date

from agency.models import ShareSnapshot
from contracts.models import Contract, Delivery
from contracts.presentation import code_letter_unposted
from core import clock
from core.audit import PORTAL_ENTER, PORTAL_EVENTS_SQL, PORTAL_LEAVE, AuditEntry
from core.csvsafe import to_csv
from core.db import seconds_between
from core.forms import DATE_RANGE_MESSAGE, in_date_range
from core.users import Agency, Role, User
from messaging.models import OutboxMessage
from messaging.models import State as MessageState
from onboarding.models import AccessCode, AccessLink, Customer

_Select = TypeVar("_Select", bound=sa.Select)  # any row shape
ENTER, LEAVE = PORTAL_ENTER, PORTAL_LEAVE
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

    def contracts(self, stmt: _Select) -> _Select:
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
    return datetime.combine(day, time(0), tzinfo=clock.TIMEZONE).astimezone(UTC)


def _de(day: date) -> str:
    return day.strftime("%d.%m.%Y")


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
    now = now or clock.today()
    default = Period(now - timedelta(days=settings.default_days - 1), now)
    if not von.strip() and not bis.strip():
        return default, {}
    errors: dict[str, str] = {}
    start = _parse_day(von) if von.strip() else default.start
    end = _parse_day(bis) if bis.strip() else now
    if start is None:
        errors["von"] = "Bitte geben Sie den Beginn als Datum ein (TT.MM.JJJJ)."
    elif not in_date_range(start):
        errors["von"], start = DATE_RANGE_MESSAGE, None
    if end is None:
        errors["bis"] = "Bitte geben Sie das Ende als Datum ein (TT.MM.JJJJ)."
    elif not in_date_range(end):
        errors["bis"], end = DATE_RANGE_MESSAGE, None
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
            ).where(_running(clock.today()))
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
    local = now.astimezone(clock.TIMEZONE).date().replace(day=1)
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


def _shares_at(session: so.Session, scope: Scope, instants: list[datetime]) -> dict[int, list[Share]]:
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
    current one — is computed from the audit trail (`_shares_at`); `now_share`, when the caller has
    it already (the per-broker figures), is the current point."""
    now = clock.now()
    points = _month_points(now)
    closed = [_month_of(at) for _, at in points[:-1]]
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
        per_agency = _shares_at(session, scope, wanted)
        live = {at: _sum([shares[k] for shares in per_agency.values()]) for k, at in enumerate(wanted)}
    result = [
        MonthPoint(label=label, at=at, share=known[closed[i]] if closed[i] in known else live[at])
        for i, (label, at) in enumerate(points[:-1])
    ]
    label, at = points[-1]
    result.append(MonthPoint(label=label, at=at, share=now_share if now_share is not None else live[at]))
    return result


def _month_of(end: datetime) -> date:
    """The first day of the month that ends at `end` (00:00 Berlin of the next month's first)."""
    return (end - timedelta(hours=12)).astimezone(clock.TIMEZONE).date().replace(day=1)


def close_months(session: so.Session) -> int:
    """Worker task: every agency's share at the end of each of the last eleven closed months, once
    (share_snapshots, unique per agency and month). Cheap when nothing is due — one count of the
    agencies without the last month's snapshot; after a month ends the first worker computes all
    missing months of all agencies in one statement; a parallel one finds them taken (unique
    constraint) and leaves. Returns how many snapshots it wrote."""
    points = _month_points(clock.now())[:-1]
    latest = _month_of(points[-1][1])
    due = session.scalar(
        sa.select(sa.func.count())
        .select_from(Agency)
        .where(~sa.exists().where(ShareSnapshot.agency_id == Agency.id, ShareSnapshot.month == latest))
    )
    if not due:
        session.rollback()
        return 0
    months = [_month_of(at) for _, at in points]
    have = set(
        session.execute(sa.select(ShareSnapshot.agency_id, ShareSnapshot.month).where(ShareSnapshot.month.in_(months)))
    )
    agencies = list(session.scalars(sa.select(Agency.id)))
    wanted = [(i, at) for i, (_, at) in enumerate(points) if any((a, months[i]) not in have for a in agencies)]
    if not wanted:  # another worker closed them between our count and now
        session.rollback()
        return 0
    per_agency = _shares_at(session, Scope(None), [at for _, at in wanted])
    rows = [
        {
            "agency_id": a,
            "month": months[i],
            "running": share.running,
            "digital": share.digital,
            "computed_at": clock.now(),
        }
        for k, (i, _) in enumerate(wanted)
        for a in agencies
        if (a, months[i]) not in have
        for share in [per_agency.get(a, [Share(0, 0)] * len(wanted))[k]]
    ]
    try:
        with session.begin_nested():
            session.execute(sa.insert(ShareSnapshot), rows)
    except sa.exc.IntegrityError:  # another worker closed these months at the same time
        session.rollback()
        return 0
    session.commit()
    return len(rows)


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


def _flags(scope: Scope, period: Period, settings: Settings, now: datetime) -> sa.Select[Any]:
    """One row per contract of the scope invited in the period (an access link created in it), with
    its progress to now over its links since the period's start — re-sent invitations count once.
    Steps are "reached at least": an activated customer did open a link and get a code."""
    start, end = period.bounds
    link = AccessLink
    # the cohort: contracts of the scope with a link created in the period (ix_access_links_created_at),
    # with what the figures need of the contract — the contracts table is read once
    invited = sa.select(link.contract_id).where(link.created_at >= start, link.created_at < end)
    cohort = scope.contracts(
        sa.select(
            Contract.id,
            Contract.owner_id,
            Contract.agency_id,
            Contract.public_id,
            Contract.delivery,
            Contract.customer_account_id,
        ).where(Contract.id.in_(invited))
    ).subquery()
    c = cohort.c
    bounces = (  # contracts whose access-link e-mail failed (few: ix_outbox_messages_state_template)
        sa.select(OutboxMessage.related_id.label("contract"))
        .where(
            OutboxMessage.state == MessageState.FAILED,
            OutboxMessage.template == "access_link",
            OutboxMessage.related_type == "contract",
            OutboxMessage.created_at >= start,
        )
        .group_by(OutboxMessage.related_id)
        .subquery()
    )
    unused = sa.and_(link.used_at.is_(None), link.revoked_at.is_(None))

    def anyone(condition: sa.ColumnElement[bool]) -> Any:
        return sa.func.max(sa.case((condition, 1), else_=0))

    # each cohort contract over its links since the period's start (ix_access_links_contract_id), its
    # customer and a bounce: every comparison once per link, the result as 0/1 (grouped, so both
    # databases compute it once and the flags below only combine integers)
    per_contract = (
        sa.select(
            c.id.label("contract_id"),
            sa.func.min(c.owner_id).label("owner_id"),  # one value per contract: min() carries it
            sa.func.min(c.agency_id).label("agency_id"),
            sa.func.min(c.delivery).label("delivery"),
            sa.func.min(link.created_at).label("sent_at"),
            sa.func.max(link.created_at).label("last_sent_at"),
            sa.func.min(Customer.activated_at).label("activated_at"),
            # activated after one of these links was sent = after the first (all are in the period)
            anyone(Customer.activated_at >= link.created_at).label("a"),
            anyone(bounces.c.contract.is_not(None)).label("b"),
            anyone(link.opened_at.is_not(None)).label("opened"),
            anyone(AccessCode.id.is_not(None)).label("has_code"),  # max() ignores a link's extra codes
            anyone(sa.and_(unused, link.expires_at > now)).label("open_link"),
            anyone(sa.and_(unused, link.expires_at <= now)).label("expired_link"),
        )
        .select_from(cohort)
        .join(link, sa.and_(link.contract_id == c.id, link.created_at >= start))
        .outerjoin(AccessCode, AccessCode.link_id == link.id)
        .outerjoin(Customer, Customer.id == c.customer_account_id)
        .outerjoin(bounces, bounces.c.contract == c.public_id)
        .group_by(c.id)
        .subquery()
    )
    p = per_contract.c

    def flag(*conditions: Any) -> Any:
        return sa.case((sa.and_(*conditions), 1), else_=0)

    reached_code = sa.or_(p.a == 1, sa.and_(p.opened == 1, p.has_code == 1))
    lost = sa.and_(p.a == 0, p.b == 0)  # neither activated nor bounced
    is_open = sa.and_(lost, p.open_link == 1, p.delivery == Delivery.PORTAL)
    return sa.select(
        p.contract_id,
        p.owner_id,
        p.agency_id,
        sa.literal_column("1").label("versendet"),
        flag(sa.or_(p.a == 1, p.opened == 1)).label("geoeffnet"),
        flag(reached_code).label("code"),
        p.a.label("aktiviert"),
        flag(lost, p.expired_link == 1).label("abgelaufen"),
        flag(p.a == 0, p.b == 1).label("unzustellbar"),
        flag(lost, p.expired_link == 0, p.delivery == Delivery.POST).label("post"),
        flag(is_open).label("offen"),
        flag(is_open, p.last_sent_at < now - timedelta(days=settings.waiting_days)).label("wartend"),
        flag(p.a == 0, p.opened == 0).label("nicht_geoeffnet"),
        flag(p.a == 0, p.opened == 1, p.has_code == 0).label("ohne_code"),
        flag(p.a == 0, p.opened == 1, p.has_code == 1).label("nicht_aktiviert"),
        sa.case((p.a == 1, seconds_between(p.activated_at, p.sent_at)), else_=None).label("seconds"),
    )


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


def _middle(rank: Any, n: Any) -> sa.ColumnElement[bool]:
    """The middle row, or the two middle rows, of n ranked ones (integer division on both databases)."""
    return rank.in_([(n + 1) // 2, (n + 2) // 2])


def _evaluate(
    session: so.Session, scope: Scope, period: Period, settings: Settings, group: str
) -> tuple[FunnelRow, dict[Any, FunnelRow]]:
    """The funnel's counts per group (broker or agency) and in total, with the median seconds from
    the first link to activation per group and overall, in one statement over one evaluation of
    `_flags`; medians by ROW_NUMBER() over the activated rows — the same on PostgreSQL and SQLite."""
    # one evaluation of the per-contract rows (a CTE used three times is materialized by both
    # databases), then narrow passes over it: the counts per group, the median per group, the median
    flags = _flags(scope, period, settings, clock.now()).cte("flags")
    f = flags.c
    nothing = [sa.cast(sa.null(), sa.Integer)] * len(COUNTED)  # typed NULLs: PostgreSQL unions by type
    counts = sa.select(
        sa.literal_column("'counts'").label("kind"),
        f[group].label("grp"),
        sa.cast(sa.null(), sa.Float).label("value"),
        *(sa.func.sum(f[k]).label(k) for k in COUNTED),
    ).group_by(f[group])

    def median(partition: list[Any], grp: Any, kind: str) -> sa.Select[Any]:
        ranked = (
            sa.select(
                grp.label("grp"),
                f.seconds,
                sa.func.row_number().over(partition_by=partition, order_by=f.seconds).label("rn"),
                sa.func.count().over(partition_by=partition).label("n"),
            )
            .where(f.aktiviert == 1)
            .subquery()
        )
        r = ranked.c
        return (
            sa.select(sa.literal_column(f"'{kind}'"), r.grp, sa.func.avg(r.seconds), *nothing)
            .where(_middle(r.rn, r.n))
            .group_by(r.grp)
        )

    rows = session.execute(
        sa.union_all(
            counts, median([f[group]], f[group], "median"), median([], sa.cast(sa.null(), sa.Integer), "total")
        )
    ).all()
    total = FunnelRow(key="", name="Gesamt", counts=dict.fromkeys(COUNTED, 0))
    groups: dict[Any, FunnelRow] = {}
    for row in rows:
        m = row._mapping
        if m["kind"] == "total":
            total.median_seconds = _float(m["value"])
        elif m["kind"] == "median":
            groups.setdefault(m["grp"], FunnelRow(key="", name="")).median_seconds = _float(m["value"])
        else:
            found = groups.setdefault(m["grp"], FunnelRow(key="", name=""))
            found.counts = {k: int(m[k]) for k in COUNTED}
            for k in COUNTED:
                total.counts[k] += found.counts[k]
    return total, groups


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


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


def figures(
    session: so.Session, scope: Scope, period: Period, settings: Settings
) -> tuple[FunnelRow, list[FunnelRow], Share]:
    """The total funnel, the rows per broker (an agency's scope; brokers with neither contracts nor
    invitations left out) or per agency (all), and the share now (the sum of the rows' shares): two
    statements, one for the funnel, one over the stock."""
    group = "agency_id" if scope.agency_id is None else "owner_id"
    total, counted = _evaluate(session, scope, period, settings, group)
    column = Contract.owner_id if group == "owner_id" else Contract.agency_id
    shares = {
        key: Share(digital=int(digital), running=int(running))
        for key, running, digital in session.execute(
            scope.contracts(
                sa.select(column, sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((_digital(), 1), else_=0)), 0))
                .where(_running(clock.today()))
                .group_by(column)
            )
        )
    }
    if group == "owner_id":
        people = sa.select(User.id, User.public_id, User.full_name).where(User.agency_id == scope.agency_id)
        if scope.owner_id is not None:
            people = people.where(User.id == scope.owner_id)
        who = [(i, p, n) for i, p, n in session.execute(people.order_by(User.full_name))]
    else:
        agencies = sa.select(Agency.id, Agency.public_id, Agency.name).order_by(Agency.name)
        who = [(i, p, n) for i, p, n in session.execute(agencies)]
    rows = []
    for ident, public_id, name in who:
        if ident not in counted and ident not in shares:
            continue  # nobody to show: no contracts, no invitations
        found = counted.get(ident)
        rows.append(
            FunnelRow(
                key=public_id,
                name=name,
                counts=found.counts if found else dict.fromkeys(COUNTED, 0),
                median_seconds=found.median_seconds if found else None,
                share=shares.get(ident, Share(0, 0)),
            )
        )
    now = Share(digital=sum(x.digital for x in shares.values()), running=sum(x.running for x in shares.values()))
    return total, rows, now


SORTS = {
    "name": lambda r: r.name.casefold(),
    "versendet": lambda r: r.sent,
    "geoeffnet": lambda r: r.counts.get("geoeffnet", 0),
    "aktiviert": lambda r: r.counts.get("aktiviert", 0),
    "quote": lambda r: r.percent("aktiviert") if r.percent("aktiviert") is not None else -1.0,
    "offen": lambda r: r.counts.get("offen", 0),
    "abgelaufen": lambda r: r.counts.get("abgelaufen", 0),
    "unzustellbar": lambda r: r.counts.get("unzustellbar", 0),
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
    flags = _flags(scope, period, settings, clock.now()).subquery()
    return Contract.id.in_(sa.select(flags.c.contract_id).where(flags.c[step] == 1))


# --- the outbox, for the back office ---------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxHealth:
    queued: int  # waiting for (another) delivery attempt or being sent
    failed: int
    oldest_waiting: datetime | None
    to_print: int = 0  # letters rendered into the Postausgang, not yet printed and posted


def outbox_health(session: so.Session) -> OutboxHealth:
    """One statement over the open states (ix_outbox_messages_state_template)."""
    waiting = OutboxMessage.state.in_((MessageState.PENDING, MessageState.SENDING))
    row = session.execute(
        sa.select(
            sa.func.count().filter(waiting),
            sa.func.count().filter(OutboxMessage.state == MessageState.FAILED),
            sa.func.min(OutboxMessage.created_at).filter(waiting),
            sa.func.count().filter(OutboxMessage.state == MessageState.READY),
        ).where(
            OutboxMessage.state.in_(
                (MessageState.PENDING, MessageState.SENDING, MessageState.FAILED, MessageState.READY)
            )
        )
    ).one()
    return OutboxHealth(queued=int(row[0]), failed=int(row[1]), oldest_waiting=row[2], to_print=int(row[3]))


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
    letters_unposted: int = 0  # invitations whose code letter still lies in the Postausgang (now)

    @property
    def steps(self) -> list[Step]:
        return steps(self.total) if self.total else []

    @property
    def outcomes(self) -> list[Step]:
        return outcomes(self.total) if self.total else []

    @property
    def per_agency(self) -> bool:
        return self.scope.agency_id is None

    def quick_periods(self) -> list[tuple[str, dict[str, str]]]:
        """The periods a manager asks for most, as links (label, query)."""
        now = clock.today()
        periods = [
            ("letzte 30 Tage", Period(now - timedelta(days=29), now)),
            ("letzte 90 Tage", Period(now - timedelta(days=89), now)),
            ("letzte 12 Monate", Period(_add_years(now, -1) + timedelta(days=1), now)),
            ("dieses Jahr", Period(now.replace(month=1, day=1), now)),
        ]
        return [(label, period.args()) for label, period in periods]

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
    if period_ok:
        total, rows, share = figures(session, scope, period, settings)
    else:
        total, rows, share = None, [], share_now(session, scope)
    return Overview(
        scope=scope,
        period=period,
        share=share,
        months=share_by_month(session, scope, now_share=share),
        total=total,
        rows=sort_rows(rows, sort, descending),
        sort=sort if sort in SORTS else "name",
        descending=descending,
        settings=settings,
        health=outbox_health(session) if scope.agency_id is None else None,
        letters_unposted=letters_unposted(session, scope),
    )


def letters_unposted(session: so.Session, scope: Scope) -> int:
    """Open invitations whose access-code letter still lies in the Postausgang (issue #26 item 17:
    the funnel's "Code versendet" counts them, but the customer has no code yet)."""
    stmt = (
        sa.select(sa.func.count())
        .select_from(Contract)
        .where(
            Contract.onboarding_state == "code_sent",
            sa.or_(Contract.onboarding_expires_at.is_(None), Contract.onboarding_expires_at > clock.now()),
            code_letter_unposted(),
        )
    )
    if scope.agency_id is not None:
        stmt = stmt.where(Contract.agency_id == scope.agency_id)
    if scope.owner_id is not None:
        stmt = stmt.where(Contract.owner_id == scope.owner_id)
    return session.scalar(stmt) or 0


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
