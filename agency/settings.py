"""Agency's settings, read once from the app's configuration at start-up (core.config defaults) and
passed into the services as arguments: the bulk switch's limits, the dashboard's periods and the
worklist's days."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app

from agency.bulk import Limits
from agency.period import Settings as DashboardSettings
from agency.worklist import Settings as WorklistSettings


@dataclass(frozen=True)
class AgencySettings:
    bulk: Limits
    dashboard: DashboardSettings
    worklist: WorklistSettings

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, link_days: int) -> AgencySettings:
        """link_days: how long an access link is valid (onboarding's setting; the worklist reads a
        link's sending day from its expiry)."""
        return cls(
            bulk=Limits(
                max_bytes=config["BULK_SWITCH_MAX_BYTES"],
                max_rows=config["BULK_SWITCH_MAX_ROWS"],
                sync_rows=config["BULK_SWITCH_SYNC_ROWS"],
            ),
            dashboard=DashboardSettings(
                default_days=config["DASHBOARD_DEFAULT_DAYS"],
                max_years=config["DASHBOARD_MAX_YEARS"],
                waiting_days=config["DASHBOARD_WAITING_DAYS"],
            ),
            worklist=WorklistSettings(
                reminder_days=config["WORKLIST_REMINDER_DAYS"],
                decision_days=config["WORKLIST_DECISION_DAYS"],
                link_days=link_days,
                letter_warning_days=config["WORKLIST_LETTER_WARNING_DAYS"],
            ),
        )


def current() -> AgencySettings:
    """The app's settings, for the edges (views, panels, worker task registrations)."""
    settings: AgencySettings = current_app.extensions["agency_settings"]
    return settings
