"""Importers and lookups on the real KBA FZ 6 list and the real PLZ file."""

import pytest
import sqlalchemy as sa

from calculator import reference
from calculator.reference import ImportFormatError, PostalPlace, Vehicle
from tests.helpers import shared_data


def test_kba_import_of_the_full_list_is_idempotent_and_lookups_work(session):
    path = shared_data("kba_fz6_hsn_tsn_2025.csv")
    first = reference.import_vehicles(session, path)
    assert (first.rows, first.inserted, first.updated) == (62392, 62392, 0)
    again = reference.import_vehicles(session, path)
    assert (again.rows, again.inserted, again.updated) == (62392, 0, 62392)
    assert session.scalar(sa.select(sa.func.count()).select_from(Vehicle)) == 62392

    golf = reference.find_vehicle(session, "0603", "bpm")
    assert (golf.manufacturer, golf.trade_name) == ("VOLKSWAGEN-VW", "GOLF")
    # a letter O typed for the digit 0 is retried (the KBA list has 0001/096, no 0001/O96)
    assert reference.find_vehicle(session, "0001", "O96").trade_name == "M 100"
    assert reference.find_vehicle(session, "0603", "ZZZ") is None
    # several names in one KBA field stay as they are
    assert reference.find_vehicle(session, "0005", "AAO").trade_name == "K 1200 R SPORT,K 1200 R"

    hits = reference.search_vehicles(session, "audi q7")
    assert ("0588", "BDP") in {(v.hsn, v.tsn) for v in hits}
    assert all("audi" in v.search_text and "q7" in v.search_text for v in hits)
    assert reference.search_vehicles(session, "x") == []  # too short to search
    assert reference.search_vehicles(session, "100%") == []  # LIKE wildcards are escaped


def test_plz_import_keeps_every_place_and_kreis(session):
    path = shared_data("plz_ort_kreis_osm.csv")
    result = reference.import_places(session, path)
    assert result.rows == result.inserted > 12000
    assert reference.import_places(session, path).inserted == 0
    berg = [p.place for p in reference.places_for(session, "56357")]
    assert "Berg" in berg
    assert len(berg) > 10
    (dresden,) = reference.places_for(session, "01067")
    # kreisfreie Stadt: no Landkreis in the file, the city is its own Kreis
    assert (dresden.place, dresden.district_key, dresden.district_name) == ("Dresden", "14612", "Dresden")
    keys = session.scalars(sa.select(PostalPlace.district_key).distinct()).all()
    assert len(keys) == 400


def test_type_and_region_class_imports(session, tmp_path):
    types = tmp_path / "typklassen.csv"
    types.write_text("hsn;tsn;kh;tk;vk\n0603;BPM;16;20;19\n0588;bdp;21;30;31\n", encoding="utf-8")
    assert reference.import_type_classes(session, types, "Test").inserted == 2
    types.write_text("\ufeffhsn;tsn;kh;tk;vk\n0603;BPM;17;20;19\n", encoding="utf-8")  # BOM, update
    assert reference.import_type_classes(session, types, "Test").updated == 1
    row = session.get(reference.VehicleTypeClass, ("0603", "BPM"))
    session.refresh(row)
    assert (row.kh, row.source) == (17, "Test")

    regions = tmp_path / "regionalklassen.csv"
    regions.write_text("kreis;kh;tk;vk\n11000;11;12;8\n", encoding="utf-8")
    assert reference.import_region_classes(session, regions, "Test").inserted == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("hsn;tsn;kh;tk;vk\n0603;BPM;26;20;19\n", "row 2: Typklasse KH '26' not in 10–25"),
        ("hsn;tsn;kh;tk;vk\n603;BPM;16;20;19\n", "row 2: invalid HSN/TSN"),
        ("hsn,tsn,kh,tk,vk\n0603,BPM,16,20,19\n", "header must be hsn;tsn;kh;tk;vk"),
    ],
)
def test_bad_type_class_files_are_refused_with_row_and_reason(session, tmp_path, content, message):
    path = tmp_path / "t.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ImportFormatError, match=message):
        reference.import_type_classes(session, path, "Test")


def test_non_utf8_file_is_refused(session, tmp_path):
    path = tmp_path / "kba.csv"
    path.write_bytes("hsn,tsn,hersteller,handelsname\n0603,BPM,VW,KÄFER\n".encode("cp1252"))
    with pytest.raises(ImportFormatError, match="not UTF-8"):
        reference.import_vehicles(session, path)
