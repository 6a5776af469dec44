"""A small hand-written vehicle list, Typklassen, places and Regionalklassen for the demo.

HSN/TSN, names, PLZ and Kreis keys are real (KBA FZ 6, OSM); all Typklassen and Regionalklassen are
DEMO VALUES, not GDV data.
"""

from __future__ import annotations

DEMO_SOURCE = "DEMO-Werte (keine GDV-Daten)"

# hsn, tsn, manufacturer, trade name, Typklassen (KH, TK, VK) or None (no offer possible)
VEHICLES = (
    ("0603", "BPM", "VOLKSWAGEN-VW", "GOLF", (16, 20, 19)),
    ("8566", "AWR", "FORD (D)", "FOCUS", (17, 19, 18)),
    ("0005", "BVZ", "BAYER.MOT.WERKE-BMW", "430D", (19, 27, 28)),
    ("0588", "BDP", "AUDI", "Q7", (21, 30, 31)),
    ("0035", "BGU", "OPEL", "CORSA-E", (15, 18, 20)),
    ("0603", "BQM", "VOLKSWAGEN-VW", "GOLF", (16, 21, 20)),
    ("0005", "AAO", "BAYER.MOT.WERKE-BMW", "K 1200 R SPORT,K 1200 R", None),
)

# plz, place, Kreis key (AGS 1-5), Kreis name, state
PLACES = (
    ("10115", "Berlin", "11000", "Berlin", "Berlin"),
    ("20095", "Hamburg", "02000", "Hamburg", "Hamburg"),
    ("50667", "Köln", "05315", "Köln", "Nordrhein-Westfalen"),
    ("80331", "München", "09162", "München", "Bayern"),
    ("66111", "Saarbrücken", "10041", "Regionalverband Saarbrücken", "Saarland"),
    ("01067", "Dresden", "14612", "Dresden", "Sachsen"),
    ("65760", "Eschborn", "06436", "Main-Taunus-Kreis", "Hessen"),
    ("56357", "Auel", "07141", "Rhein-Lahn-Kreis", "Rheinland-Pfalz"),
    ("56357", "Berg", "07141", "Rhein-Lahn-Kreis", "Rheinland-Pfalz"),
    ("56357", "Bogel", "07141", "Rhein-Lahn-Kreis", "Rheinland-Pfalz"),
    ("56357", "Holzhausen an der Haide", "07141", "Rhein-Lahn-Kreis", "Rheinland-Pfalz"),
)

# Kreis key -> Regionalklassen (KH, TK, VK)
REGION_CLASSES = {
    "11000": (11, 12, 8),
    "02000": (10, 10, 7),
    "05315": (9, 8, 6),
    "09162": (8, 13, 7),
    "10041": (7, 5, 4),
    "14612": (6, 9, 5),
    "06436": (5, 7, 5),
    "07141": (3, 4, 3),
}
