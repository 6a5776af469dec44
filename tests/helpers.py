"""Small helpers for web tests: CSRF tokens from pages, logging in through the real form."""

from __future__ import annotations

import dataclasses
import re
from functools import cache
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from calculator.tariffs import TariffCatalog
from core.passwords import hash_password

# the shipped tariffs, for importing a stock outside an app (the app's own: ContractSettings.catalog)
SHIPPED_TARIFFS = TariffCatalog.load()
PASSWORD = "Richtig-Geheim-7!"
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client: FlaskClient, url: str) -> str:
    page = client.get(url)
    match = _TOKEN.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {url} ({page.status_code})"
    return match.group(1)


def post_form(client: FlaskClient, url: str, data: dict[str, Any], *, page: str | None = None, **kwargs: Any):
    """POST like a browser: first GET the page the form is on and take its CSRF token."""
    return client.post(url, data={"csrf_token": csrf_token(client, page or url), **data}, **kwargs)


def login(client: FlaskClient, email: str, password: str = PASSWORD):
    return post_form(client, "/anmelden", {"email": email, "password": password})


@cache
def cached_hash(password: str) -> str:
    """argon2 is slow on purpose; hash each test password once per run."""
    return hash_password(password)


def shared_data(name: str):
    """A file of ../shared/data (see `missing` for what happens without it)."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "shared" / "data" / name
    if not path.exists():
        missing(f"{path} (the suite needs ../shared beside the checkout)")
    return path


def missing(what: str) -> None:
    """A prerequisite of a test is not on this machine. Under the test command (scripts/test.sh sets
    VR_REQUIRE_ALL) and in CI this fails the test; only a bare `pytest` run elsewhere skips, loudly."""
    import os

    import pytest

    if os.environ.get("CI") or os.environ.get("VR_REQUIRE_ALL"):
        pytest.fail(f"{what} is missing: scripts/bootstrap.sh --test installs it")
    pytest.skip(f"SKIPPED LOUDLY: {what} is missing on this machine (scripts/bootstrap.sh --test installs it)")


KFZ_ANSWERS = {
    "anrede": "herr",
    "vorname": "Jürgen",
    "name": "Müller-Lüdenscheidt",
    "geburtsdatum": "29.02.1972",
    "strasse": "Hauptstraße 1",
    "plz": "10115",
    "taetigkeit": "employed",
    "vorversicherung": "ja",
    "vv_versicherer": "HUK-COBURG",
    "vv_gekuendigt_durch": "vn",
    "vv_schaeden": "0",
    "hsn": "0603",
    "tsn": "BPM",
    "erstzulassung": "01.03.2020",
    "kilometerstand": "45000",
    "fahrleistung": "12000",
    "nutzung": "private",
    "abstellplatz": "garage",
    "fahrerkreis": "vn_partner",
    "juengster_fahrer": "40",
    "kfz_deckung": "kh_vk",
    "sf_kh": "12",
    "sf_vk": "10",
    "sb_tk": "150",
    "sb_vk": "500",
    "zahlweise": "monatlich",
}

# what the Antrag asks besides the SEPA mandate and the delivery (issue #24): the Vertragsinformationen
# handed over (§ 7 VVG), the separate notice of § 19 Abs. 5 VVG, for Kfz the occasion and the FIN
ANTRAG_DECLARATIONS = {
    "vertragsinformationen_am": "01.01.2026",
    "belehrung_19": "y",
    "anlass": "neuzulassung",
    "fin": "WVWZZZ1KZ8W123456",
    "wuensche": "Vollkasko für den neuen Golf, monatliche Zahlung",
    "rat": "Tarif Auto Komfort mit Vollkasko, SB 500 €",
    "begruendung": "Neuwertiges Fahrzeug, Kunde möchte eigene Schäden abgesichert wissen",
    "beratung_uebergeben": "y",
}

# what policing files in the contract's folder: the Versicherungsschein, the first Beitragsrechnung,
# the Antrag, the Beratungsdokumentation and the tariff's three Vertragsinformationen (AVB, IPID,
# Verbraucherinformationen)
POLICING_DOCUMENTS = 7

RS_ANSWERS = {
    "anrede": "frau",
    "vorname": "Änne",
    "name": "Schröder",
    "geburtsdatum": "01.04.1985",
    "strasse": "Gartenweg 5",
    "plz": "80331",
    "taetigkeit": "public_service",
    "deckung": "single",
    "vorversicherung": "keine",
    "risikoberuf": "nein",
    "bausteine": ["privat", "verkehr"],
    "selbstbeteiligung": "150",
    "mitgliedschaftsbeginn": "17.04.2019",
    "zahlweise": "jaehrlich",
}


def demo_stock(session: Any, broker: Any, manager: Any, extra: str = "") -> dict[str, Any]:
    """The demo's existing contracts (plus `extra` CSV lines) for these broker and manager, imported
    and committed (they exist before what a test does with them); by Vertragsnummer."""
    import sqlalchemy as sa

    from contracts.imports import import_contracts
    from contracts.models import Contract
    from demo.seed import DEMO_EXISTING

    data = (DEMO_EXISTING + extra).replace("vermittler@demo.example", broker.email)
    import_contracts(session, data.replace("agenturleiter@demo.example", manager.email).encode(), SHIPPED_TARIFFS)
    session.commit()
    return {c.number: c for c in session.scalars(sa.select(Contract))}


def use_tariffs(app: Flask, catalog: TariffCatalog) -> None:
    """Start the app's tariffs over with this catalog (as TARIFF_EXTRA_DIRS would at start-up): the
    calculator's catalog and the one contracts' settings carry."""
    app.extensions["tariffs"] = catalog
    app.extensions["contract_settings"] = dataclasses.replace(app.extensions["contract_settings"], catalog=catalog)


def with_settings(app: Flask, key: str, **changes: Any) -> None:
    """A frozen settings value of the app (e.g. "contract_settings") with some fields changed, as if
    the app had been started with other configuration."""
    app.extensions[key] = dataclasses.replace(app.extensions[key], **changes)


def run_jobs_until_idle(app: Any, kind: str) -> int:
    """A worker's loop over the due jobs of `kind` (core.jobs), in its own app context and so its own
    session and connection, until none is due; returns the steps it ran."""
    from core import db, jobs

    run, steps = jobs.runner(app, [kind]), 0
    with app.app_context():
        while run(db.session()):
            steps += 1
    return steps
