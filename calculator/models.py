"""Offers (Angebote): a priced quote, pinned to the tariff version it was priced with."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core import clock
from core.db import Base, new_public_id
from core.users import User


class Offer(Base):
    __tablename__ = "offers"
    __table_args__ = (sa.Index("ix_offers_agency_owner", "agency_id", "owner_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    client_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("clients.id"), index=True)  # the Kunde
    # scope (core.authz): the broker who quoted and his agency
    agency_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("agencies.id"))
    owner_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id"), index=True)
    product: so.Mapped[str] = so.mapped_column(sa.String(10))
    # "Speichern unter": an offer without a name is a draft
    name: so.Mapped[str | None] = so.mapped_column(sa.String(120))
    applicant_name: so.Mapped[str] = so.mapped_column(sa.String(250))
    # what the broker typed (re-shown on "Daten ändern") and the priced risk (re-priced on reopen)
    form_data: so.Mapped[dict[str, list[str]]] = so.mapped_column(sa.JSON)
    risk: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    tariff_version: so.Mapped[str] = so.mapped_column(sa.String(40))
    frequency: so.Mapped[str] = so.mapped_column(sa.String(20))
    total: so.Mapped[Decimal] = so.mapped_column(sa.Numeric(12, 2))
    annual_total: so.Mapped[Decimal] = so.mapped_column(sa.Numeric(12, 2))
    premium: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    # reasons for Risikoprüfung (underwriting referral); empty: automatic acceptance possible
    referral_reasons: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    updated_at: so.Mapped[datetime] = so.mapped_column(default=clock.now, onupdate=clock.now)
    saved_at: so.Mapped[datetime | None]

    owner: so.Mapped[User] = so.relationship()

    @property
    def is_saved(self) -> bool:
        return self.name is not None

    @property
    def needs_underwriting(self) -> bool:
        return bool(self.referral_reasons)


def byte_ordered(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


class CustomerRecord(Base):
    """A broker's customer (Kunde)."""

    __tablename__ = "clients"
    __table_args__ = (
        sa.Index("ix_clients_agency_search", "agency_id", "search_key"),
        sa.Index("ix_clients_agency_birth", "agency_id", "birth_date"),
        sa.Index("ix_clients_agency_email", "agency_id", "email"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    agency_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("agencies.id"))
    owner_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id"))
    salutation: so.Mapped[str] = so.mapped_column(sa.String(20), default="")
    first_name: so.Mapped[str] = so.mapped_column(sa.String(100))
    last_name: so.Mapped[str] = so.mapped_column(sa.String(100))
    birth_date: so.Mapped[date | None]
    street: so.Mapped[str] = so.mapped_column(sa.String(150), default="")
    plz: so.Mapped[str] = so.mapped_column(sa.String(5), default="")
    city: so.Mapped[str] = so.mapped_column(sa.String(100), default="")
    # byte order on PostgreSQL (collation "C"), as SQLite has it: a prefix LIKE and the ORDER BY are
    # served by the plain index there (calculator.customers.prefix_match)
    email: so.Mapped[str | None] = so.mapped_column(byte_ordered(254))
    mobile: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    search_key: so.Mapped[str] = so.mapped_column(byte_ordered(250))  # "last first", normalised
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def name_words(self) -> list[str]:
        """The search key from each of its words on: "mueller luedenscheidt juergen",
        "luedenscheidt juergen", "juergen" — so a prefix search finds any part of the name."""
        words = self.search_key.split()
        return [" ".join(words[i:]) for i in range(len(words))]

    @property
    def address(self) -> str:
        return f"{self.street}, {self.plz} {self.city}".strip(", ")


class CustomerNameWord(Base):
    """The Kunden search's index of name parts (CustomerRecord.name_words): "Lüdenscheidt" finds
    "Müller-Lüdenscheidt" by an indexed prefix lookup, as the name's beginning does."""

    __tablename__ = "client_name_words"
    __table_args__ = (sa.Index("ix_client_name_words_agency_word", "agency_id", "word", "client_id"),)

    client_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("clients.id"), primary_key=True)
    word: so.Mapped[str] = so.mapped_column(byte_ordered(250), primary_key=True)
    agency_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("agencies.id"))
