from core.navigation import current_marks

STAFF = [
    ("agency.home", "/agentur/", ()),
    ("agency.figures", "/agentur/kennzahlen", ()),
    ("contracts.index", "/vertraege/", ()),
    ("agency.stock", "/bestand/", ()),
]
PORTAL = [
    ("portal.documents", "/portal/dokumente", ()),
    ("portal.contracts", "/portal/vertraege", ()),
    ("my_data.index", "/portal/daten", ("/portal/sicherheit",)),
]


def test_the_own_page_is_the_page_and_a_sub_page_belongs_to_the_longest_section():
    assert current_marks("/agentur/", "agency.home", STAFF) == ["page", "", "", ""]
    assert current_marks("/agentur/kennzahlen", "agency.figures", STAFF) == ["", "page", "", ""]
    assert current_marks("/agentur/kennzahlen/trichter.csv", "agency.export", STAFF) == ["", "true", "", ""]
    assert current_marks("/vertraege/abc123/aenderung", "contract_changes.change_contract", STAFF) == [
        "",
        "",
        "true",
        "",
    ]
    assert current_marks("/agentur/umstellung/42", "agency.job", STAFF) == ["true", "", "", ""]
    assert current_marks("/vertraegexyz", "x", STAFF) == ["", "", "", ""]  # a prefix of the name only
    assert current_marks("/kunden/", "clients.index", STAFF) == ["", "", "", ""]


def test_the_portal_s_pages_mark_their_section():
    assert current_marks("/portal/daten/anschrift", "my_data.change_address", PORTAL) == ["", "", "true"]
    assert current_marks("/portal/sicherheit/einrichten", "my_data.totp_setup", PORTAL) == ["", "", "true"]
    assert current_marks("/portal/vertraege/x/schaden", "portal.report_claim", PORTAL) == ["", "true", ""]
    assert current_marks("/portal/dokumente", "portal.documents", PORTAL) == ["page", "", ""]
