"""One pager for every list: the page number from the query string, clamped to the pages there are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
import sqlalchemy.orm as so

T = TypeVar("T")
MAX_PAGE_DIGITS = 9  # no list has a billion pages; longer input is not parsed at all


def page_number(raw: str | None) -> int:
    """'?seite=…' as typed: anything that is not a sensible positive number is page 1, absurdly
    large numbers become the last page later (they never reach the database)."""
    raw = (raw or "").strip()
    digits = raw.isascii() and raw.isdigit()  # not "²" or "٣": str.isdigit() accepts those, int() not
    if not digits:
        return 1
    if len(raw) > MAX_PAGE_DIGITS:
        return 10**MAX_PAGE_DIGITS
    return max(int(raw), 1)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    number: int  # 1-based, within 1 … pages
    pages: int
    total: int
    size: int


def clamp(number: int, total: int, size: int) -> tuple[int, int]:
    pages = max((total + size - 1) // size, 1)
    return min(max(number, 1), pages), pages


def paginate(session: so.Session, stmt: sa.Select[Any], number: int, size: int) -> Page[Any]:
    """Count, clamp, fetch one page of an ordered statement (two queries)."""
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())) or 0
    number, pages = clamp(number, total, size)
    items = session.scalars(stmt.offset((number - 1) * size).limit(size)).all()
    return Page(items, number, pages, total, size)
