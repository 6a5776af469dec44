"""Kunden: one customer record behind a broker's offers, applications and contracts.

Created at the first offer, matched on name + birth date + address: an exact match within what the
broker may see is linked, a new person is created, and anything in between (the same name and birth
date at another address, or two exact matches) is left for the broker to confirm — never merged
silently. The name key is normalised and indexed for the typeahead's prefix search
(contracts.customer_records: by any part of the name, birth date, Vertragsnummer or e-mail)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from calculator.forms.fields import parse_german_date
from calculator.models import CustomerNameWord, CustomerRecord, Offer
from core import audit
from core.authz import scoped
from core.users import User

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def normalise(text: str) -> str:
    """'Müller-Lüdenscheidt, Jürgen' → 'mueller luedenscheidt juergen' (umlauts as typed on any
    keyboard, accents dropped, punctuation as spaces)."""
    text = text.casefold().translate(_UMLAUTS)
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


def key_of(last_name: str, first_name: str) -> str:
    return normalise(f"{last_name} {first_name}")


@dataclass(frozen=True)
class Person:
    """The applicant as an offer states him."""

    salutation: str
    first_name: str
    last_name: str
    birth_date: date | None
    street: str
    plz: str
    city: str

    @classmethod
    def of_offer(cls, offer: Offer, city: str = "") -> Person:
        data = {k: (v[0] if v else "") for k, v in offer.form_data.items()}
        return cls(
            salutation=data.get("anrede", ""),
            first_name=" ".join(data.get("vorname", "").split()),
            last_name=" ".join(data.get("name", "").split()),
            birth_date=parse_german_date(data.get("geburtsdatum", "")),
            street=" ".join(data.get("strasse", "").split()),
            plz=data.get("plz", "").strip(),
            city=city,
        )


def _same_address(client: CustomerRecord, person: Person) -> bool:
    return normalise(client.street) == normalise(person.street) and client.plz == person.plz


def candidates(session: so.Session, user: User, person: Person) -> list[CustomerRecord]:
    """His customers (within what he may see) with this name and birth date."""
    stmt = sa.select(CustomerRecord).where(
        CustomerRecord.search_key == key_of(person.last_name, person.first_name),
        CustomerRecord.birth_date == person.birth_date,
    )
    return list(session.scalars(scoped(stmt, CustomerRecord, user).order_by(CustomerRecord.id)))


def create(session: so.Session, user: User, person: Person) -> CustomerRecord:
    assert user.agency_id is not None
    client = CustomerRecord(
        agency_id=user.agency_id,
        owner_id=user.id,
        salutation=person.salutation,
        first_name=person.first_name,
        last_name=person.last_name,
        birth_date=person.birth_date,
        street=person.street,
        plz=person.plz,
        city=person.city,
        search_key=key_of(person.last_name, person.first_name),
    )
    session.add(client)
    session.flush()
    session.add_all(
        CustomerNameWord(client_id=client.id, agency_id=client.agency_id, word=w) for w in client.name_words
    )
    audit.record(session, "client_created", actor=user, object_type="client", object_id=client.public_id)
    return client


def attach(session: so.Session, user: User, offer: Offer, person: Person) -> list[CustomerRecord]:
    """Give a new offer its customer: the one exact match, or a new one. Returns the candidates
    the broker must choose among (then the offer stays without a customer until he confirms)."""
    if offer.client_id is not None:
        return []
    found = candidates(session, user, person)
    exact = [c for c in found if _same_address(c, person)]
    if len(exact) == 1:
        offer.client_id = exact[0].id
        return []
    if not found:
        offer.client_id = create(session, user, person).id
        return []
    return found


def confirm(session: so.Session, user: User, offer: Offer, person: Person, chosen: str | None) -> CustomerRecord:
    """The broker's answer to an ambiguous match: one of the candidates (by public id), or None
    for a new customer."""
    if chosen:
        client = session.scalar(
            scoped(sa.select(CustomerRecord).where(CustomerRecord.public_id == chosen), CustomerRecord, user)
        )
        if client is None or client not in candidates(session, user, person):
            raise ValueError("Bitte wählen Sie einen der angezeigten Kunden oder „Neuer Kunde“.")
    else:
        client = create(session, user, person)
    offer.client_id = client.id
    session.flush()
    return client


def prefix_match(column: Any, text: str, dialect: str) -> Any:
    """column starts with text, in a form the index serves: LIKE on PostgreSQL (the column's
    collation is "C"), a range on SQLite (binary order)."""
    if dialect == "postgresql":
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return column.like(escaped + "%", escape="\\")
    return sa.and_(column >= text, column < text + "\uffff")


def applicant_data(client: CustomerRecord) -> dict[str, str]:
    """The quote form's applicant answers from the customer record (prefill)."""
    return {
        "anrede": client.salutation,
        "vorname": client.first_name,
        "name": client.last_name,
        "geburtsdatum": client.birth_date.strftime("%d.%m.%Y") if client.birth_date else "",
        "strasse": client.street,
        "plz": client.plz,
    }
