"""Reference data the calculator prices with: the KBA vehicle catalogue (HSN/TSN), Typklassen per
vehicle, PLZ → Ort → Kreis, and Regionalklassen per Kreis. Lookups and importers live here too.

The exact lookups (vehicle, Typklassen, places of a PLZ, Regionalklassen) are served from an
in-process snapshot (issue #28 item 1): filled lazily, one entry per key looked up, and valid for one
reference-data version. Every change of these tables — an import, the demo seed, any ORM write —
sets a new version in the same transaction; a process checks the version at most every
REFERENCE_CHECK_SECONDS (30), so an import takes effect in every process within that time (the KBA
lists change monthly). Entries are copies belonging to no session."""

from __future__ import annotations

import csv
import io
import re
import secrets
import threading
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from time import monotonic
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql, sqlite

from core import clock
from core.db import Base

HSN_PATTERN = re.compile(r"^[0-9]{4}$")
TSN_PATTERN = re.compile(r"^[0-9A-Z]{3}$")
PLZ_PATTERN = re.compile(r"^[0-9]{5}$")


class Vehicle(Base):
    """One row of the KBA FZ 6 list: HSN (manufacturer key) + TSN (type key)."""

    __tablename__ = "vehicles"

    hsn: so.Mapped[str] = so.mapped_column(sa.String(4), primary_key=True)
    tsn: so.Mapped[str] = so.mapped_column(sa.String(3), primary_key=True)
    manufacturer: so.Mapped[str] = so.mapped_column(sa.String(120))
    trade_name: so.Mapped[str] = so.mapped_column(sa.String(255))
    # lower-case "manufacturer trade name" for the typeahead
    search_text: so.Mapped[str] = so.mapped_column(sa.String(400))


class VehicleTypeClass(Base):
    """Typklassen KH/TK/VK of a vehicle (licensed GDV data; the demo seed writes demo values)."""

    __tablename__ = "vehicle_type_classes"

    hsn: so.Mapped[str] = so.mapped_column(sa.String(4), primary_key=True)
    tsn: so.Mapped[str] = so.mapped_column(sa.String(3), primary_key=True)
    kh: so.Mapped[int]
    tk: so.Mapped[int]
    vk: so.Mapped[int]
    source: so.Mapped[str] = so.mapped_column(sa.String(100))
    updated_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)


class PostalPlace(Base):
    """A place (Ort) of a PLZ and the Kreis it lies in; a PLZ may have several places and Kreise."""

    __tablename__ = "postal_places"
    __table_args__ = (sa.UniqueConstraint("plz", "place", "district_key"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    plz: so.Mapped[str] = so.mapped_column(sa.String(5), index=True)
    place: so.Mapped[str] = so.mapped_column(sa.String(120))
    district_key: so.Mapped[str] = so.mapped_column(sa.String(5))  # AGS digits 1-5 (Kreis)
    district_name: so.Mapped[str] = so.mapped_column(sa.String(120))
    state: so.Mapped[str] = so.mapped_column(sa.String(60))


class RegionClass(Base):
    """Regionalklassen KH/TK/VK per Kreis (licensed GDV data; demo values in the demo seed)."""

    __tablename__ = "region_classes"

    district_key: so.Mapped[str] = so.mapped_column(sa.String(5), primary_key=True)
    kh: so.Mapped[int]
    tk: so.Mapped[int]
    vk: so.Mapped[int]
    source: so.Mapped[str] = so.mapped_column(sa.String(100))
    updated_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)


class ReferenceVersion(Base):
    """One row: the version of the reference data, a new random value with every change."""

    __tablename__ = "reference_version"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    version: so.Mapped[str] = so.mapped_column(sa.String(32))


REFERENCE_MODELS: tuple[type[Base], ...] = (Vehicle, VehicleTypeClass, PostalPlace, RegionClass)


def bump_version(session: so.Session) -> None:
    """A new version, in the caller's transaction (an import, the demo seed, any ORM write)."""
    token = secrets.token_hex(16)
    updated = session.execute(sa.update(ReferenceVersion).where(ReferenceVersion.id == 1).values(version=token))
    if not getattr(updated, "rowcount", 0):
        session.add(ReferenceVersion(id=1, version=token))


@sa.event.listens_for(so.Session, "before_flush")
def _bump_on_write(session: so.Session, _context: Any, _instances: Any) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, REFERENCE_MODELS) for obj in changed) and not session.info.get("reference_bumped"):
        session.info["reference_bumped"] = True  # once per flush cycle; reset after the flush
        bump_version(session)


@sa.event.listens_for(so.Session, "after_flush_postexec")
def _bumped(session: so.Session, _context: Any) -> None:
    session.info.pop("reference_bumped", None)


# the process's snapshot per database (tests run many apps in one process)
CHECK_SECONDS = 30.0  # calculator.init_app sets REFERENCE_CHECK_SECONDS


class _Snapshot:
    def __init__(self) -> None:
        self.version: str | None = None
        self.checked = -1e9
        self.entries: dict[tuple[str, Any], Any] = {}
        self.lock = threading.Lock()


_snapshots: weakref.WeakKeyDictionary[sa.Engine, _Snapshot] = weakref.WeakKeyDictionary()
_MISSING = object()


def _snapshot(session: so.Session) -> _Snapshot:
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, sa.Connection) else bind
    snap = _snapshots.get(engine)
    if snap is None:
        snap = _snapshots.setdefault(engine, _Snapshot())
    now = monotonic()
    if now - snap.checked >= CHECK_SECONDS:
        version = session.scalar(sa.select(ReferenceVersion.version).where(ReferenceVersion.id == 1))
        with snap.lock:
            if version != snap.version:
                snap.entries = {}
                snap.version = version
            snap.checked = now
    return snap


def _copy(obj: Any) -> Any:
    """The row as a new object of its class that no session owns (safe to share between requests)."""
    mapper = sa.inspect(type(obj))
    return type(obj)(**{attr.key: getattr(obj, attr.key) for attr in mapper.column_attrs})


def _cached(session: so.Session, kind: str, key: Any, load: Any) -> Any:
    snap = _snapshot(session)
    found = snap.entries.get((kind, key), _MISSING)
    if found is _MISSING:
        found = load()
        snap.entries[(kind, key)] = found
    return found


# --- lookups ----------------------------------------------------------------------------------------


def normalize_tsn(tsn: str) -> str:
    return tsn.strip().upper()


def find_vehicle(session: so.Session, hsn: str, tsn: str) -> Vehicle | None:
    """Exact lookup; a TSN typed with the letter O is retried with the digit 0 (unambiguous in KBA)."""
    hsn, tsn = hsn.strip(), normalize_tsn(tsn)

    def load() -> Vehicle | None:
        vehicle = session.get(Vehicle, (hsn, tsn))
        if vehicle is None and "O" in tsn:
            vehicle = session.get(Vehicle, (hsn, tsn.replace("O", "0")))
        return _copy(vehicle) if vehicle is not None else None

    found: Vehicle | None = _cached(session, "vehicle", (hsn, tsn), load)
    return found


def type_classes_for(session: so.Session, vehicle: Vehicle) -> VehicleTypeClass | None:
    def load() -> VehicleTypeClass | None:
        classes = session.get(VehicleTypeClass, (vehicle.hsn, vehicle.tsn))
        return _copy(classes) if classes is not None else None

    found: VehicleTypeClass | None = _cached(session, "types", (vehicle.hsn, vehicle.tsn), load)
    return found


def search_vehicles(session: so.Session, query: str, limit: int = 15) -> list[Vehicle]:
    """Typeahead by make and model: every word must occur (case-insensitive), cars' names first."""
    words = [w for w in re.split(r"\s+", query.strip().lower()) if len(w) >= 2][:4]
    if not words:
        return []
    stmt = sa.select(Vehicle)
    for word in words:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(Vehicle.search_text.like(f"%{escaped}%", escape="\\"))
    stmt = stmt.where(Vehicle.trade_name != "UNBEKANNT").order_by(
        Vehicle.manufacturer, Vehicle.trade_name, Vehicle.hsn, Vehicle.tsn
    )
    return list(session.scalars(stmt.limit(limit)))


def places_for(session: so.Session, plz: str) -> list[PostalPlace]:
    def load() -> tuple[PostalPlace, ...]:
        stmt = (
            sa.select(PostalPlace).where(PostalPlace.plz == plz).order_by(PostalPlace.place, PostalPlace.district_key)
        )
        return tuple(_copy(p) for p in session.scalars(stmt))

    return list(_cached(session, "places", plz, load))


def region_classes_for(session: so.Session, district_key: str) -> RegionClass | None:
    def load() -> RegionClass | None:
        classes = session.get(RegionClass, district_key)
        return _copy(classes) if classes is not None else None

    found: RegionClass | None = _cached(session, "regions", district_key, load)
    return found


# --- importers --------------------------------------------------------------------------------------


class ImportFormatError(ValueError):
    """The file is not in the expected layout; the message says what and where."""


@dataclass(frozen=True)
class ImportResult:
    rows: int
    inserted: int
    updated: int


def _upsert(session: so.Session, table: sa.Table, rows: list[dict[str, Any]], keys: list[str]) -> None:
    """INSERT … ON CONFLICT DO UPDATE on PostgreSQL and SQLite (idempotent imports)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table)
    updates = {c: getattr(stmt.excluded, c) for c in rows[0] if c not in keys}
    session.execute(stmt.on_conflict_do_update(index_elements=keys, set_=updates), rows)


def _count(session: so.Session, model: type[Base]) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def _chunks(rows: Iterable[dict[str, Any]], size: int = 5000) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _text_lines(path: Path) -> io.StringIO:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"{path.name}: not UTF-8 (byte {exc.start})") from exc
    # the KBA file starts with a provenance comment line ("# quelle,…")
    return io.StringIO("".join(line for line in text.splitlines(keepends=True) if not line.startswith("#")))


def _kba_rows(path: Path) -> Iterator[dict[str, Any]]:
    reader = csv.DictReader(_text_lines(path))
    if reader.fieldnames != ["hsn", "tsn", "hersteller", "handelsname"]:
        raise ImportFormatError(f"{path.name}: header must be hsn,tsn,hersteller,handelsname")
    seen: set[tuple[str, str]] = set()
    for number, row in enumerate(reader, start=2):
        hsn, tsn = row["hsn"].strip(), normalize_tsn(row["tsn"])
        if not HSN_PATTERN.match(hsn) or not TSN_PATTERN.match(tsn):
            raise ImportFormatError(f"{path.name}, row {number}: invalid HSN/TSN {hsn!r}/{tsn!r}")
        if (hsn, tsn) in seen:
            continue  # a repeated pair in one file: the first one wins
        seen.add((hsn, tsn))
        manufacturer, trade_name = row["hersteller"].strip(), row["handelsname"].strip()
        yield {
            "hsn": hsn,
            "tsn": tsn,
            "manufacturer": manufacturer[:120],
            "trade_name": trade_name[:255],
            "search_text": f"{manufacturer} {trade_name}".lower()[:400],
        }


def import_vehicles(session: so.Session, path: Path) -> ImportResult:
    """Import a KBA FZ 6 CSV (hsn,tsn,hersteller,handelsname); idempotent (upsert by HSN/TSN)."""
    before = _count(session, Vehicle)
    rows = 0
    table = Vehicle.__table__
    assert isinstance(table, sa.Table)
    for chunk in _chunks(_kba_rows(path)):
        _upsert(session, table, chunk, ["hsn", "tsn"])
        rows += len(chunk)
    inserted = _count(session, Vehicle) - before
    bump_version(session)
    return ImportResult(rows, inserted, rows - inserted)


def _semicolon_rows(path: Path, header: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(_text_lines(path), delimiter=";")
    if reader.fieldnames != header:
        raise ImportFormatError(f"{path.name}: header must be {';'.join(header)}")
    for number, row in enumerate(reader, start=2):
        yield number, {k: (v or "").strip() for k, v in row.items()}


def _class(value: str, valid: range, what: str, where: str) -> int:
    if not value.isdigit() or int(value) not in valid:
        raise ImportFormatError(f"{where}: {what} {value!r} not in {valid.start}–{valid.stop - 1}")
    return int(value)


TYPE_CLASS_HEADER = ["hsn", "tsn", "kh", "tk", "vk"]
REGION_CLASS_HEADER = ["kreis", "kh", "tk", "vk"]


def import_type_classes(session: so.Session, path: Path, source: str) -> ImportResult:
    """Typklassen as CSV `hsn;tsn;kh;tk;vk` (KH 10–25, TK 10–33, VK 10–34); idempotent."""
    from calculator.tariffs.catalog import TYPE_CLASS_RANGES

    rows = []
    for number, row in _semicolon_rows(path, TYPE_CLASS_HEADER):
        where = f"{path.name}, row {number}"
        hsn, tsn = row["hsn"], normalize_tsn(row["tsn"])
        if not HSN_PATTERN.match(hsn) or not TSN_PATTERN.match(tsn):
            raise ImportFormatError(f"{where}: invalid HSN/TSN {hsn!r}/{tsn!r}")
        rows.append(
            {
                "hsn": hsn,
                "tsn": tsn,
                **{
                    p: _class(row[p], TYPE_CLASS_RANGES[p], f"Typklasse {p.upper()}", where) for p in ("kh", "tk", "vk")
                },
                "source": source,
                "updated_at": clock.now(),
            }
        )
    return _import(session, VehicleTypeClass, rows, ["hsn", "tsn"])


def import_region_classes(session: so.Session, path: Path, source: str) -> ImportResult:
    """Regionalklassen per Kreis as CSV `kreis;kh;tk;vk` (AGS digits 1–5; KH 1–12, TK 1–16, VK 1–9)."""
    from calculator.tariffs.catalog import REGION_CLASS_RANGES

    rows = []
    for number, row in _semicolon_rows(path, REGION_CLASS_HEADER):
        where = f"{path.name}, row {number}"
        if not re.fullmatch(r"[0-9]{5}", row["kreis"]):
            raise ImportFormatError(f"{where}: Kreis key {row['kreis']!r} must be 5 digits")
        rows.append(
            {
                "district_key": row["kreis"],
                **{
                    p: _class(row[p], REGION_CLASS_RANGES[p], f"Regionalklasse {p.upper()}", where)
                    for p in ("kh", "tk", "vk")
                },
                "source": source,
                "updated_at": clock.now(),
            }
        )
    return _import(session, RegionClass, rows, ["district_key"])


def import_places(session: so.Session, path: Path) -> ImportResult:
    """PLZ → Ort → Kreis as CSV `osm_id,ags,ort,plz,landkreis,bundesland` (Kreis = AGS digits 1–5)."""
    reader = csv.DictReader(_text_lines(path))
    if reader.fieldnames != ["osm_id", "ags", "ort", "plz", "landkreis", "bundesland"]:
        raise ImportFormatError(f"{path.name}: header must be osm_id,ags,ort,plz,landkreis,bundesland")
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for number, row in enumerate(reader, start=2):
        plz, ags, place = row["plz"].strip(), row["ags"].strip(), row["ort"].strip()
        if not PLZ_PATTERN.match(plz) or not re.fullmatch(r"[0-9]{8}", ags) or not place:
            raise ImportFormatError(f"{path.name}, row {number}: invalid PLZ/AGS/Ort {plz!r}/{ags!r}/{place!r}")
        key = (plz, place[:120], ags[:5])
        # kreisfreie Städte have no landkreis: the city is its own Kreis
        rows[key] = {
            "plz": plz,
            "place": place[:120],
            "district_key": ags[:5],
            "district_name": (row["landkreis"].strip() or place)[:120],
            "state": row["bundesland"].strip()[:60],
        }
    return _import(session, PostalPlace, list(rows.values()), ["plz", "place", "district_key"])


def _import(session: so.Session, model: type[Base], rows: list[dict[str, Any]], keys: list[str]) -> ImportResult:
    before = _count(session, model)
    table = model.__table__
    assert isinstance(table, sa.Table)
    for chunk in _chunks(rows):
        _upsert(session, table, chunk, keys)
    inserted = _count(session, model) - before
    bump_version(session)
    return ImportResult(len(rows), inserted, len(rows) - inserted)
