"""The figures as CSV (formula cells escaped by core.csvsafe)."""

from __future__ import annotations

from typing import Any

from agency.figures import Overview
from agency.share import Share
from core.csvsafe import to_csv


def funnel_csv(view: Overview) -> str:
    """The funnel and the table as CSV (formula cells escaped by core.csvsafe)."""
    header = ["Zeitraum", "Schritt", "Verträge", "Anteil an versendeten Links (%)", "Verloren zum vorigen Schritt"]
    rows: list[list[Any]] = []
    for step in view.steps + view.outcomes:
        rows.append(
            [view.period.label, step.label, step.count, _pct(step.of_sent), "" if step.lost is None else step.lost]
        )
    return to_csv(header, rows)


def table_csv(view: Overview) -> str:
    who = "Agentur" if view.per_agency else "Vermittler"
    header = [
        who,
        "Link versendet",
        "Link geöffnet",
        "Code versendet",
        "aktiviert",
        "Aktivierungsquote (%)",
        "Link abgelaufen",
        "E-Mail unzustellbar",
        "zurück auf Post",
        "noch offen",
        "Median bis Aktivierung (Tage)",
        "Laufende Verträge",
        "davon digital",
        "Digitalquote (%)",
    ]
    rows = []
    for r in view.rows:
        c = r.counts
        share = r.share or Share(0, 0)
        rows.append(
            [
                r.name,
                c["versendet"],
                c["geoeffnet"],
                c["code"],
                c["aktiviert"],
                _pct(r.percent("aktiviert")),
                c["abgelaufen"],
                c["unzustellbar"],
                c["post"],
                c["offen"],
                "" if r.median_days is None else f"{r.median_days:.1f}".replace(".", ","),
                share.running,
                share.digital,
                _pct(share.percent),
            ]
        )
    return to_csv(header, rows)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}".replace(".", ",")
