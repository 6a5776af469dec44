"""The onboarding funnel of a period, per broker (or per agency), and the median time to activation —
and, for the click-through, the same conditions as a filter of the Bestand, so a bar and its list are
exactly the same contracts. One per-contract subquery over the access links, codes, customers and the
failed access-link e-mails of the outbox; its 0/1 columns are both the counts and the filter."""

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
from onboarding.models import AccessCode, AccessLink, PortalAccount

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
            sa.func.min(PortalAccount.activated_at).label("activated_at"),
            # activated after one of these links was sent = after the first (all are in the period)
            anyone(PortalAccount.activated_at >= link.created_at).label("a"),
            anyone(bounces.c.contract.is_not(None)).label("b"),
            anyone(link.opened_at.is_not(None)).label("opened"),
            anyone(AccessCode.id.is_not(None)).label("has_code"),  # max() ignores a link's extra codes
            anyone(sa.and_(unused, link.expires_at > now)).label("open_link"),
            anyone(sa.and_(unused, link.expires_at <= now)).label("expired_link"),
        )
        .select_from(cohort)
        .join(link, sa.and_(link.contract_id == c.id, link.created_at >= start))
        .outerjoin(AccessCode, AccessCode.link_id == link.id)
        .outerjoin(PortalAccount, PortalAccount.id == c.customer_account_id)
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
