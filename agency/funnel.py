"""The onboarding funnel of a period, per broker (or per agency), and the median time to activation —
and, for the click-through, the same conditions as a filter of the Bestand, so a bar and its list are
exactly the same contracts. One range scan of the onboarding progress read model (onboarding.progress)
with the few failed access-link e-mails of the outbox; its 0/1 columns are both the counts and the
filter."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from agency.period import Period, Scope, Settings
from agency.share import Share, digital, running
from contracts.models import Contract, Delivery
from core import clock
from core.db import seconds_between
from core.users import Agency, User
from messaging.models import OutboxMessage
from messaging.models import State as MessageState
from onboarding.models import OnboardingProgress

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
SELF = "selbst"  # of the links sent: the customers' own registrations (issue #29), the rest were invitations
FILTERS = dict(
    STEPS + OUTCOMES + LOST + (("wartend", "noch offen, Link älter als {days} Tage"), (SELF, "selbst registriert"))
)


def _cohort(stmt: sa.Select[Any], scope: Scope, period: Period) -> sa.Select[Any]:
    """The statement restricted to the progress rows of the scope's contracts invited in the period
    (ix_onboarding_progress_agency_sent; all agencies: ix_onboarding_progress_sent)."""
    start, end = period.bounds
    p = OnboardingProgress
    stmt = stmt.where(p.sent_at >= start, p.sent_at < end)
    if scope.agency_id is not None:
        stmt = stmt.where(p.agency_id == scope.agency_id)
    if scope.owner_id is not None:
        stmt = stmt.where(p.owner_id == scope.owner_id)
    return stmt


def _flags(scope: Scope, period: Period, settings: Settings, now: datetime) -> sa.Select[Any]:
    """One row per contract of the scope invited in the period (its first access link sent in it),
    with its progress to now — from the read model OnboardingProgress: one range scan over
    `sent_at`, whatever the period's length. Re-sent links count once, in the period of the first,
    so the figures of two adjacent periods add up to those of both. Steps are "reached at least":
    an activated customer did open a link and get a code."""
    start, _ = period.bounds
    c = _cohort(sa.select(OnboardingProgress), scope, period).subquery()
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

    def flag(*conditions: Any) -> Any:
        return sa.case((sa.and_(*conditions), 1), else_=0)

    activated = c.c.activated_at.is_not(None)
    bounced = bounces.c.contract.is_not(None)
    opened = c.c.opened_at.is_not(None)
    has_code = c.c.code_at.is_not(None)
    open_link = sa.and_(c.c.open_until.is_not(None), c.c.open_until > now)
    expired_link = sa.and_(c.c.expired_since.is_not(None), c.c.expired_since <= now)
    lost = sa.and_(~activated, ~bounced)  # neither activated nor bounced
    own = c.c.self_registered == 1  # the customer registered himself: on post delivery until he activates
    is_open = sa.and_(lost, open_link, sa.or_(c.c.delivery == Delivery.PORTAL, own))
    return (
        sa.select(
            c.c.contract_id,
            c.c.owner_id,
            c.c.agency_id,
            sa.literal_column("1").label("versendet"),
            flag(sa.or_(activated, opened)).label("geoeffnet"),
            flag(sa.or_(activated, sa.and_(opened, has_code))).label("code"),
            flag(activated).label("aktiviert"),
            flag(lost, expired_link).label("abgelaufen"),
            flag(~activated, bounced).label("unzustellbar"),
            flag(lost, ~expired_link, c.c.delivery == Delivery.POST, ~own).label("post"),
            flag(is_open).label("offen"),
            flag(is_open, c.c.last_sent_at < now - timedelta(days=settings.waiting_days)).label("wartend"),
            flag(~activated, ~opened).label("nicht_geoeffnet"),
            flag(~activated, opened, ~has_code).label("ohne_code"),
            flag(~activated, opened, has_code).label("nicht_aktiviert"),
            flag(own).label("selbst"),
            sa.case((activated, seconds_between(c.c.activated_at, c.c.sent_at)), else_=None).label("seconds"),
        )
        .select_from(c)
        .outerjoin(bounces, bounces.c.contract == c.c.contract_public_id)
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


COUNTED = (*(k for k, _ in STEPS + OUTCOMES + LOST), "wartend", SELF)


def _middle(rank: Any, n: Any) -> sa.ColumnElement[bool]:
    """The middle row, or the two middle rows, of n ranked ones (integer division on both databases)."""
    return rank.in_([(n + 1) // 2, (n + 2) // 2])


def _evaluate(
    session: so.Session, scope: Scope, period: Period, settings: Settings, group: str
) -> tuple[FunnelRow, dict[Any, FunnelRow]]:
    """The funnel's counts per group (broker or agency) and in total, and the median seconds from the
    first link to activation per group and overall: one aggregate pass over the period's rows for the
    counts (a hash aggregate, no sort), one over its activated rows for the medians."""
    f = _flags(scope, period, settings, clock.now()).subquery().c
    total = FunnelRow(key="", name="Gesamt", counts=dict.fromkeys(COUNTED, 0))
    groups: dict[Any, FunnelRow] = {}
    counts = sa.select(f[group], *(sa.func.sum(f[k]).label(k) for k in COUNTED)).group_by(f[group])
    for row in session.execute(counts):
        found = groups.setdefault(row[0], FunnelRow(key="", name=""))
        found.counts = {k: int(row._mapping[k]) for k in COUNTED}
        for k in COUNTED:
            total.counts[k] += found.counts[k]
    for grp, is_total, value in _medians(session, scope, period, group):
        if is_total:
            total.median_seconds = _float(value)
        else:
            groups.setdefault(grp, FunnelRow(key="", name="")).median_seconds = _float(value)
    return total, groups


def _medians(session: so.Session, scope: Scope, period: Period, group: str) -> list[tuple[Any, bool, Any]]:
    """(group, is the total, median seconds) of the activated contracts invited in the period — the
    middle value, or the mean of the two middle ones: PostgreSQL's percentile_cont(0.5) per group and
    in total (ROLLUP), SQLite by ROW_NUMBER() (it has neither)."""
    p = OnboardingProgress
    activated = _cohort(
        sa.select(getattr(p, group).label("grp"), seconds_between(p.activated_at, p.sent_at).label("seconds")),
        scope,
        period,
    ).where(p.activated_at.is_not(None))
    if session.get_bind().dialect.name == "postgresql":
        a = activated.subquery().c
        median = sa.func.percentile_cont(0.5).within_group(a.seconds)
        stmt = sa.select(a.grp, sa.func.grouping(a.grp), median).group_by(sa.func.rollup(a.grp))
        return [(grp, bool(is_total), value) for grp, is_total, value in session.execute(stmt)]
    ranked_rows = activated.cte("activated")
    r0 = ranked_rows.c

    def middle(partition: list[Any], grp: Any, is_total: bool) -> sa.Select[Any]:
        ranked = sa.select(
            grp.label("grp"),
            r0.seconds,
            sa.func.row_number().over(partition_by=partition, order_by=r0.seconds).label("rn"),
            sa.func.count().over(partition_by=partition).label("n"),
        ).subquery()
        r = ranked.c
        flag = sa.literal(1 if is_total else 0)
        return sa.select(r.grp, flag, sa.func.avg(r.seconds)).where(_middle(r.rn, r.n)).group_by(r.grp)

    both = sa.union_all(middle([r0.grp], r0.grp, False), middle([], sa.cast(sa.null(), sa.Integer), True))
    return [(grp, bool(is_total), value) for grp, is_total, value in session.execute(both)]


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
                sa.select(column, sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((digital(), 1), else_=0)), 0))
                .where(running(clock.today()))
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
