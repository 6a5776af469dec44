"""The demo agency and its logins. Demo only: the password is public (README)."""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm as so

from calculator.reference import PostalPlace, RegionClass, Vehicle, VehicleTypeClass
from core.passwords import PasswordRule
from core.users import Agency, Role, User, create_agency, create_user

DEMO_PASSWORD = "Demo-Passwort-1!"  # noqa: S105 - demo only, documented in the README
DEMO_AGENCY = {"name": "Demo-Agentur", "broker_number": "900100"}
DEMO_USERS = (
    ("vermittler@demo.example", "Max Vermittler", Role.BROKER, "089 12345670"),
    ("agenturleiter@demo.example", "Anna Agenturleiter", Role.MANAGER, "089 12345671"),
    ("innendienst@demo.example", "Ines Innendienst", Role.BACKOFFICE, None),
)


def seed(session: so.Session) -> list[str]:
    """Create what is missing of the demo data; return what was created. Idempotent."""
    created: list[str] = []
    created += _seed_reference_data(session)
    agency = session.scalar(sa.select(Agency).where(Agency.broker_number == DEMO_AGENCY["broker_number"]))
    if agency is None:
        agency = create_agency(session, **DEMO_AGENCY)
        created.append(f"Agentur {agency.name}")
    for email, name, role, phone in DEMO_USERS:
        if session.scalar(sa.select(User.id).where(User.email == email)):
            continue
        create_user(
            session,
            email=email,
            full_name=name,
            role=role,
            password=DEMO_PASSWORD,
            agency=None if role is Role.BACKOFFICE else agency,
            rule=PasswordRule(),
            phone=phone,
        )
        created.append(f"{role.label} {email}")
    created += _seed_existing_contracts(session)
    return created


def _seed_reference_data(session: so.Session) -> list[str]:
    from demo.reference_data import DEMO_SOURCE, PLACES, REGION_CLASSES, VEHICLES

    created = []
    for hsn, tsn, manufacturer, trade_name, classes in VEHICLES:
        if session.get(Vehicle, (hsn, tsn)) is None:
            session.add(
                Vehicle(
                    hsn=hsn,
                    tsn=tsn,
                    manufacturer=manufacturer,
                    trade_name=trade_name,
                    search_text=f"{manufacturer} {trade_name}".lower(),
                )
            )
            created.append(f"Fahrzeug {hsn}/{tsn} {trade_name}")
        if classes and session.get(VehicleTypeClass, (hsn, tsn)) is None:
            session.add(
                VehicleTypeClass(hsn=hsn, tsn=tsn, kh=classes[0], tk=classes[1], vk=classes[2], source=DEMO_SOURCE)
            )
    for plz, place, key, district, state in PLACES:
        exists = session.scalar(
            sa.select(PostalPlace.id).where(
                PostalPlace.plz == plz, PostalPlace.place == place, PostalPlace.district_key == key
            )
        )
        if exists is None:
            session.add(PostalPlace(plz=plz, place=place, district_key=key, district_name=district, state=state))
            created.append(f"Ort {plz} {place}")
    for key, (kh, tk, vk) in REGION_CLASSES.items():
        if session.get(RegionClass, key) is None:
            session.add(RegionClass(district_key=key, kh=kh, tk=tk, vk=vk, source=DEMO_SOURCE))
    session.flush()
    return created


# Existing contracts (Bestand) of the demo broker, delivered by post: to try switching to the portal.
DEMO_EXISTING = (
    "vertragsnummer;vermittler;sparte;anrede;vorname;name;strasse;plz;ort;beginn;beitrag;zahlweise;email;mobilnummer;"
    "geburtsdatum\n"
    "BV-4711001;vermittler@demo.example;rs;Frau;Helga;Brandt;Lindenallee 3;50667;Köln;01.01.2021;24,90;monatlich;"
    "helga.brandt@example.org;0151 23456789;12.03.1961\n"
    "BV-4711002;vermittler@demo.example;kfz;Herr;Stefan;Krüger;Am Markt 12;80331;München;01.04.2019;512,40;jaehrlich;"
    "stefan.krueger@example.org;0170 9876543;30.11.1978\n"
    "BV-4711003;vermittler@demo.example;rs;Herr;Ömer;Yilmaz;Ringstraße 8;10115;Berlin;15.06.2022;19,80;monatlich;;;"
    "05.07.1990\n"
    "BV-4711004;agenturleiter@demo.example;kfz;Frau;Petra;Schulze;Bahnhofstraße 1;66111;Saarbrücken;01.09.2020;"
    "88,10;vierteljaehrlich;;;21.01.1985\n"
)


def _seed_existing_contracts(session: so.Session) -> list[str]:
    from contracts.imports import import_contracts
    from contracts.settings import current as contract_settings

    result = import_contracts(session, DEMO_EXISTING.encode(), contract_settings().catalog)
    # a demo database seeded before the import knew birth dates gets them (self-registration matches them)
    import csv
    import io

    import sqlalchemy as sa

    from contracts.models import Contract

    born = {
        row["vertragsnummer"]: row["geburtsdatum"] for row in csv.DictReader(io.StringIO(DEMO_EXISTING), delimiter=";")
    }
    for contract in session.scalars(sa.select(Contract).where(Contract.number.in_(list(born)))):
        if not (contract.customer or {}).get("birth_date"):
            contract.customer = {**(contract.customer or {}), "birth_date": born[contract.number or ""]}
    return [f"{result.created} Bestandsverträge"] if result.created else []
