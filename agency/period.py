"""The dashboard's scope and period: whose contracts (one agency, one broker of it, or all) and which
German calendar days, parsed from the form with German messages; days turned into UTC instants
(Europe/Berlin midnights)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

import sqlalchemy as sa

from contracts.models import Contract
from core import clock
from core.forms import DATE_RANGE_MESSAGE, in_date_range
from core.users import Role, User

_Select = TypeVar("_Select", bound=sa.Select)  # any row shape


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
        return midnight(self.start), midnight(self.end + timedelta(days=1))

    @property
    def label(self) -> str:
        return f"{_de(self.start)} – {_de(self.end)}"

    def args(self) -> dict[str, str]:
        return {"von": self.start.isoformat(), "bis": self.end.isoformat()}


def midnight(day: date) -> datetime:
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
        elif add_years(start, settings.max_years) <= end:
            errors["bis"] = f"Der Zeitraum darf höchstens {settings.max_years} Jahre lang sein."
    if errors or start is None or end is None:
        return default, errors
    return Period(start, end), {}


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)
