"""The one place that tells the time, so tests can move it (time-machine) and the demo can write a
back-dated history (``as_of``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

# the business's time zone: dates on documents, deadlines, "today" (the one zone constant)
TIMEZONE = ZoneInfo("Europe/Berlin")

_shift: ContextVar[timedelta] = ContextVar("clock_shift", default=timedelta(0))


def now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC) + _shift.get()


def today() -> date:
    """Today in Berlin (the day on documents and in deadlines), by the same clock as now()."""
    return now().astimezone(TIMEZONE).date()


@contextmanager
def as_of(moment: datetime) -> Iterator[None]:
    """Inside the block the clock tells the time as if it were ``moment`` (and runs on from there):
    for writing a back-dated history with the real services (``flask demo history``). Only this
    context (thread, task) sees it; no request uses it."""
    token = _shift.set(moment - datetime.now(UTC))
    try:
        yield
    finally:
        _shift.reset(token)
