"""Vertragsinformationen (§ 7 VVG, VVG-InfoV): per tariff version the Allgemeine
Versicherungsbedingungen (AKB/ARB), the Informationsblatt zu Versicherungsprodukten (IPID) and the
Verbraucherinformationen, as PDFs. Their texts are tariff data (calculator.tariffs.terms
ContractDocument, Jinja over the tariff's terms and the insurer); they go with the offer e-mail, the
Antrag records when the customer got them, and policing files them in the contract's folder."""

from __future__ import annotations

import threading

from flask import render_template, render_template_string
from markupsafe import Markup

from calculator.tariffs import TariffCatalog
from calculator.tariffs.terms import ContractDocument
from contracts.settings import Insurer
from core.pdf import render_pdfs

# the PDFs of a tariff version's texts do not change while a process runs: rendered once each
_cache: dict[tuple[str, str, Insurer], bytes] = {}
_lock = threading.Lock()


def html(catalog: TariffCatalog, version: str, document: ContractDocument, insurer: Insurer) -> str:
    tariff = catalog.get(version)
    body = render_template_string(document.html, tariff=tariff, terms=tariff.contract_terms, insurer=insurer)
    return render_template(
        "documents/vertragsinformation.html",
        document=document,
        body=Markup(body),  # noqa: S704 — rendered from the tariff's own text files (trusted tariff data, autoescaped values)
        tariff=tariff,
        insurer=insurer,
    )


def pdfs(catalog: TariffCatalog, version: str, insurer: Insurer) -> list[tuple[ContractDocument, bytes]]:
    """The tariff version's Vertragsinformationen as (document, PDF), in their order."""
    documents = catalog.get(version).documents
    missing = [d for d in documents if (version, d.key, insurer) not in _cache]
    if missing:
        rendered = render_pdfs([html(catalog, version, d, insurer) for d in missing])
        with _lock:
            for document, pdf in zip(missing, rendered, strict=True):
                _cache[(version, document.key, insurer)] = pdf
    return [(d, _cache[(version, d.key, insurer)]) for d in documents]


def filename(document: ContractDocument, version: str) -> str:
    return f"{document.title.split(' (')[0]}-{version}.pdf".replace(" ", "-")
