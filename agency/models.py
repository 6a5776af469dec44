"""Bulk switches of existing contracts to the customer portal (CSV upload or selection)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import sqlalchemy as sa
import sqlalchemy.orm as so

from core import clock
from core.db import Base, new_public_id


class JobState(enum.StrEnum):
    PREVIEW = "preview"  # validated, nothing changed yet
    RUNNING = "running"
    DONE = "done"

    @property
    def label(self) -> str:
        return {"preview": "Vorschau", "running": "läuft", "done": "abgeschlossen"}[self.value]


RowStatus = Literal["ok", "error", "switched", "failed"]


@dataclass
class SwitchRow:
    """One row of a bulk switch: what was typed (or is on file for a selection) and its outcome.
    status: "ok" checked and waiting, "error" refused by the check, "switched", "failed" when run.
    id: its row in switch_job_rows once the job is stored."""

    line: int
    number: str
    email: str
    mobile: str
    status: RowStatus = "ok"
    message: str = ""
    source: str = "csv"  # "bestand": a selection, with the e-mail and mobile number on file
    # set by the check: the address and E.164 number the switch uses (checked once, not per step)
    email_checked: str = ""
    mobile_checked: str = ""
    id: int | None = None

    def values(self) -> dict[str, Any]:
        """The row's columns (without id and job)."""
        return {name: getattr(self, name) for name in FIELDS}


FIELDS = ("line", "number", "email", "mobile", "status", "message", "source", "email_checked", "mobile_checked")


class SwitchJob(Base):
    __tablename__ = "switch_jobs"
    __scope_owner__ = "created_by_id"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    agency_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("agencies.id"), index=True)
    created_by_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id"))
    filename: so.Mapped[str] = so.mapped_column(sa.String(200))
    state: so.Mapped[JobState] = so.mapped_column(default=JobState.PREVIEW)
    total: so.Mapped[int] = so.mapped_column(default=0)
    # rows run so far (switched or failed): added to by one UPDATE per chunk, whichever worker ran it
    processed: so.Mapped[int] = so.mapped_column(default=0)
    note: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    finished_at: so.Mapped[datetime | None]


class SwitchJobRow(Base):
    """A job's rows in a table of their own (issue #28): several workers take chunks of one job at
    once (FOR UPDATE SKIP LOCKED over its open rows) and each row's outcome is written in the
    transaction that switched it."""

    __tablename__ = "switch_job_rows"
    __table_args__ = (
        sa.UniqueConstraint("job_id", "line"),
        sa.Index("ix_switch_job_rows_open", "job_id", "status", "line"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    job_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("switch_jobs.id", ondelete="CASCADE"))
    line: so.Mapped[int]
    number: so.Mapped[str] = so.mapped_column(sa.String(254))
    email: so.Mapped[str] = so.mapped_column(sa.String(254))
    mobile: so.Mapped[str] = so.mapped_column(sa.String(254))
    status: so.Mapped[str] = so.mapped_column(sa.String(10))
    message: so.Mapped[str] = so.mapped_column(sa.String(300))
    source: so.Mapped[str] = so.mapped_column(sa.String(10))
    email_checked: so.Mapped[str] = so.mapped_column(sa.String(254))
    mobile_checked: so.Mapped[str] = so.mapped_column(sa.String(20))


class ShareSnapshot(Base):
    """An agency's digital share at the end of a month (agency.snapshots.close_months): a closed
    month does not change — the figures come from events up to its end — so the dashboard reads
    it from here instead of the audit trail. One row per agency and month (unique: written once,
    whichever worker comes first)."""

    __tablename__ = "share_snapshots"
    __table_args__ = (sa.UniqueConstraint("agency_id", "month"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    agency_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("agencies.id"))
    month: so.Mapped[date]  # its first day
    running: so.Mapped[int]
    digital: so.Mapped[int]
    computed_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
