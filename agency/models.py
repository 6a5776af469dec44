"""Bulk switches of existing contracts to the customer portal (CSV upload or selection)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

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


class SwitchJob(Base):
    __tablename__ = "switch_jobs"
    __scope_owner__ = "created_by_id"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    agency_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("agencies.id"), index=True)
    created_by_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id"))
    filename: so.Mapped[str] = so.mapped_column(sa.String(200))
    state: so.Mapped[JobState] = so.mapped_column(
        sa.Enum(JobState, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=JobState.PREVIEW,
    )
    # one entry per row: {"line", "number", "email", "mobile", "status": "ok"|"error"|"switched"|"failed", "message"}
    rows: so.Mapped[list[dict[str, Any]]] = so.mapped_column(sa.JSON)
    total: so.Mapped[int] = so.mapped_column(default=0)
    processed: so.Mapped[int] = so.mapped_column(default=0)
    note: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    finished_at: so.Mapped[datetime | None]
