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
    status: "ok" checked and waiting, "error" refused by the check, "switched", "failed" when run."""

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

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SwitchRow:
        return cls(**{k: data[k] for k in FIELDS if k in data})

    def as_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "number": self.number,
            "email": self.email,
            "mobile": self.mobile,
            "status": self.status,
            "message": self.message,
            "source": self.source,
            "email_checked": self.email_checked,
            "mobile_checked": self.mobile_checked,
        }


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
    # one SwitchRow per row, as JSON (read and written through switch_rows)
    rows: so.Mapped[list[dict[str, Any]]] = so.mapped_column(sa.JSON)
    total: so.Mapped[int] = so.mapped_column(default=0)
    processed: so.Mapped[int] = so.mapped_column(default=0)
    note: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    finished_at: so.Mapped[datetime | None]

    @property
    def switch_rows(self) -> list[SwitchRow]:
        return [SwitchRow.from_json(r) for r in self.rows]

    @switch_rows.setter
    def switch_rows(self, rows: list[SwitchRow]) -> None:
        self.rows = [r.as_json() for r in rows]

    def counts(self) -> dict[str, int]:
        """Rows per status (ok, error, switched, failed)."""
        counts = {"ok": 0, "error": 0, "switched": 0, "failed": 0}
        for row in self.rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        return counts


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
