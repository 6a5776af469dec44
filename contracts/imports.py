"""Existing contracts (Bestand) from the insurer's systems: CSV, one contract per line.

vertragsnummer;vermittler;sparte;anrede;vorname;name;strasse;plz;ort;beginn;beitrag;zahlweise;email;mobilnummer

- vermittler: the e-mail of the broker (or agency manager) who looks after the contract
- sparte: kfz or rs; beginn: TT.MM.JJJJ; beitrag: per Zahlweise incl. tax, e.g. 27,50;
  zahlweise: jaehrlich, halbjaehrlich, vierteljaehrlich or monatlich
- email, mobilnummer: optional (then the contract can be switched to the portal from the Bestand)
Contracts come in with delivery by post. Existing numbers are skipped (the import is idempotent);
numbers in the calculator's own format VR-… are refused (the calculator issues those itself)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
import sqlalchemy.orm as so
from babel.numbers import NumberFormatError, parse_decimal

from calculator.forms.fields import parse_german_date
from calculator.tariffs import TariffCatalog
from contracts import lifecycle
from contracts.models import Contract, Delivery
from contracts.numbers import PATTERN
from core import audit, clock
from core.contact import ContactError as MessageError
from core.contact import normalize_email, normalize_mobile
from core.users import Role, User

HEADER = [
    "vertragsnummer",
    "vermittler",
    "sparte",
    "anrede",
    "vorname",
    "name",
    "strasse",
    "plz",
    "ort",
    "beginn",
    "beitrag",
    "zahlweise",
    "email",
    "mobilnummer",
]
BIRTH_DATE = "geburtsdatum"  # optional last column (issue #29: self-registration needs it)
PERIODS = {"jaehrlich": 1, "halbjaehrlich": 2, "vierteljaehrlich": 4, "monatlich": 12}


class ImportError_(ValueError):
    pass


@dataclass
class ImportResult:
    created: int
    skipped: int


def import_contracts(session: so.Session, data: bytes, catalog: TariffCatalog) -> ImportResult:
    """All lines are checked first; one bad line stops the import and nothing is written. The next
    Hauptfälligkeit follows the product's tariff terms (the app's catalog: ContractSettings)."""
    text = data.decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text), delimiter=";")
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if header not in (HEADER, [*HEADER, BIRTH_DATE]):
        raise ImportError_("header must be " + ";".join(HEADER) + f" (optionally ;{BIRTH_DATE} at the end)")
    brokers = {u.email: u for u in session.scalars(sa.select(User).where(User.role != Role.BACKOFFICE))}
    existing = set(session.scalars(sa.select(Contract.number)))
    today = clock.today()
    contracts, skipped = [], 0
    for line, row in enumerate(reader, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in row.items()}
        where = f"line {line}"
        number = row["vertragsnummer"].upper()
        if not number:
            raise ImportError_(f"{where}: vertragsnummer missing")
        if PATTERN.match(number):
            raise ImportError_(f"{where}: numbers VR-… are issued by the calculator itself")
        if number in existing:
            skipped += 1
            continue
        broker = brokers.get(row["vermittler"].lower())
        if broker is None or broker.agency_id is None:
            raise ImportError_(f"{where}: unknown broker {row['vermittler']!r}")
        if row["sparte"] not in ("kfz", "rs") or row["zahlweise"] not in PERIODS:
            raise ImportError_(f"{where}: sparte must be kfz|rs, zahlweise one of {', '.join(PERIODS)}")
        start = parse_german_date(row["beginn"])
        if start is None:
            raise ImportError_(f"{where}: beginn {row['beginn']!r} is not TT.MM.JJJJ")
        try:
            total = parse_decimal(row["beitrag"], locale="de_DE", strict=True).quantize(Decimal("0.01"))
        except (NumberFormatError, InvalidOperation) as exc:
            raise ImportError_(f"{where}: beitrag {row['beitrag']!r} is not an amount") from exc
        try:
            email = normalize_email(row["email"]) if row["email"] else None
            mobile = normalize_mobile(row["mobilnummer"]) if row["mobilnummer"] else None
        except MessageError as exc:
            raise ImportError_(f"{where}: {exc}") from exc
        born = row.get(BIRTH_DATE, "")
        if born and parse_german_date(born) is None:
            raise ImportError_(f"{where}: geburtsdatum {born!r} is not TT.MM.JJJJ")
        salutation = {"herr": "Herr", "frau": "Frau"}.get(row["anrede"].lower(), "")
        contracts.append(
            Contract(
                number=number,
                agency_id=broker.agency_id,
                owner_id=broker.id,
                product=row["sparte"],
                tariff_version="Bestand",
                customer_name=f"{row['vorname']} {row['name']}".strip(),
                customer={
                    "salutation": salutation,
                    "first_name": row["vorname"],
                    "last_name": row["name"],
                    "birth_date": born,  # the policyholder's: a self-registration is matched by it
                    "street": row["strasse"],
                    "plz": row["plz"],
                    "city": row["ort"],
                },
                customer_email=email,
                customer_mobile=mobile,
                delivery=Delivery.POST,
                start_date=start,
                frequency=row["zahlweise"],
                total=total,
                annual_total=total * PERIODS[row["zahlweise"]],
                premium={"lines": [], "total": str(total)},
                main_due=lifecycle.next_main_due(
                    start, today, lifecycle.terms_for(catalog, row["sparte"], "Bestand", today)
                ),
            )
        )
        existing.add(number)
    session.add_all(contracts)
    session.flush()
    for contract in contracts:
        audit.record(
            session,
            "contract_imported",
            actor_label="Import",
            agency_id=contract.agency_id,
            object_type="contract",
            object_id=contract.public_id,
        )
    return ImportResult(len(contracts), skipped)
