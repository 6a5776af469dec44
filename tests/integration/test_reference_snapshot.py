"""Issue #28 item 1: the reference data the live premium reads (vehicle, Typklassen, places of a PLZ,
Regionalklassen) comes from an in-process snapshot. A lookup already made costs no statement; any
change of the data — an import or an ORM write — sets a new version in its transaction, and a process
notices it at the latest after REFERENCE_CHECK_SECONDS (an import takes effect everywhere within it)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from calculator import reference
from calculator.reference import PostalPlace, RegionClass

pytestmark = pytest.mark.usefixtures("demo_reference")


@pytest.fixture
def statements(session):
    """The statements the session's connection sends, counted."""
    seen: list[str] = []
    engine = session.get_bind().engine

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", count)


@pytest.fixture
def clock_of_the_check(monkeypatch):
    """The snapshot's monotonic clock, moved by hand; checks at most every 30 s, as in production."""
    now = [1000.0]
    reference._snapshots.clear()  # a snapshot checked at another test's clock
    monkeypatch.setattr(reference, "CHECK_SECONDS", 30.0)
    monkeypatch.setattr(reference, "monotonic", lambda: now[0])
    return now


def test_a_lookup_made_once_costs_no_statement_within_the_check_interval(session, statements, clock_of_the_check):
    vehicle = reference.find_vehicle(session, "0603", "BPM")
    assert vehicle is not None
    assert reference.places_for(session, "10115")
    assert reference.type_classes_for(session, vehicle) is not None
    statements.clear()
    clock_of_the_check[0] += 10
    again = reference.find_vehicle(session, "0603", "bpm")
    assert again is not None
    assert (again.hsn, again.tsn) == ("0603", "BPM")
    assert [p.place for p in reference.places_for(session, "10115")] == ["Berlin"]
    assert reference.type_classes_for(session, again).kh == reference.type_classes_for(session, vehicle).kh
    assert statements == []
    assert sa.inspect(again).session is None  # a copy that belongs to no session: safe to share


def test_a_change_of_the_data_is_seen_after_the_check_interval(session, clock_of_the_check):
    district = reference.places_for(session, "10115")[0].district_key
    before = reference.region_classes_for(session, district).kh
    session.get(RegionClass, district).kh = before + 1  # an ORM write sets a new version when flushed
    session.flush()
    assert reference.region_classes_for(session, district).kh == before  # within the interval: the snapshot
    clock_of_the_check[0] += 31
    assert reference.region_classes_for(session, district).kh == before + 1


def test_an_import_sets_a_new_version(session, tmp_path, clock_of_the_check):
    csv = tmp_path / "plz.csv"
    csv.write_text("osm_id,ags,ort,plz,landkreis,bundesland\n1,11000000,Neustadt am Testbach,10115,Berlin,Berlin\n")
    assert [p.place for p in reference.places_for(session, "10115")] == ["Berlin"]
    version = session.scalar(sa.select(reference.ReferenceVersion.version))
    reference.import_places(session, csv)
    assert session.scalar(sa.select(reference.ReferenceVersion.version)) != version
    clock_of_the_check[0] += 31
    assert sorted(p.place for p in reference.places_for(session, "10115")) == ["Berlin", "Neustadt am Testbach"]
    assert session.scalar(sa.select(sa.func.count()).select_from(PostalPlace).where(PostalPlace.plz == "10115")) == 2
