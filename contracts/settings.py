"""Contracts' settings, read once from the app's configuration at start-up (core.config defaults)
and passed into the services as arguments: policing, changes, renewal and the document jobs run the
same way from a request, the worker, the CLI and a test. The tariff catalog is loaded once too
(calculator's init_app) and travels with them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app

from calculator.tariffs import TariffCatalog


@dataclass(frozen=True)
class Rules:
    """Settings of changes and cancellations; the notice of a Kündigung is the tariff's
    (ContractTerms)."""

    backdate_days: int = 90  # CONTRACT_CHANGE_BACKDATE_DAYS
    evb_valid_days: int = 90  # an eVB issued at policing or re-issued for a new vehicle (EVB_VALID_DAYS)


@dataclass(frozen=True)
class Insurer:
    """The Risikoträger named on the Versicherungsschein and in the Vertragsinformationen."""

    name: str
    address: str
    register: str
    supervisor: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Insurer:
        return cls(
            config["INSURER_NAME"], config["INSURER_ADDRESS"], config["INSURER_REGISTER"], config["INSURER_SUPERVISOR"]
        )


@dataclass(frozen=True)
class ContractSettings:
    catalog: TariffCatalog
    insurer: Insurer
    rules: Rules = Rules()
    renewal_step_contracts: int = 25  # contracts per renewal/Probelauf step (RENEWAL_STEP_CONTRACTS)
    renewal_notice_months: int = 1  # a premium increase is told this long before the due date
    pdf_workers: int | None = None  # documents rendered at once (PDF_WORKERS; None: every core)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], catalog: TariffCatalog) -> ContractSettings:
        return cls(
            catalog=catalog,
            insurer=Insurer.from_config(config),
            rules=Rules(backdate_days=config["CONTRACT_CHANGE_BACKDATE_DAYS"], evb_valid_days=config["EVB_VALID_DAYS"]),
            renewal_step_contracts=config["RENEWAL_STEP_CONTRACTS"],
            renewal_notice_months=config["RENEWAL_NOTICE_MONTHS"],
            pdf_workers=config["PDF_WORKERS"] or None,
        )


def current() -> ContractSettings:
    """The app's settings, for the edges (views, CLI commands, worker task registrations)."""
    settings: ContractSettings = current_app.extensions["contract_settings"]
    return settings
