"""The agency manager's figures page (and the back office's across all agencies) in one value: the
share now and per month (agency.share), the funnel of the period (agency.funnel), the outbox's health
for the back office (messaging.queries), the code letters still in the Postausgang.

Everything is computed in SQL, one statement per figure, from what the product writes anyway."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from agency.funnel import SORTS, FunnelRow, Step, figures, outcomes, sort_rows, steps
from agency.period import Period, Scope, Settings, add_years, scope_for
from agency.share import MonthPoint, Share, share_by_month, share_now
from contracts.models import Contract
from contracts.presentation import code_letter_unposted
from core import clock
from core.users import User
from messaging.queries import OutboxHealth, outbox_health

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
            ("letzte 12 Monate", Period(add_years(now, -1) + timedelta(days=1), now)),
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
