"""The `flask` commands against a database with committed data."""

import sqlalchemy as sa

from core.db import session as db_session
from core.passwords import verify_password
from core.users import Agency, Role, User
from demo.seed import DEMO_PASSWORD


def _users(app):
    with app.app_context():
        return {u.email: (u.role, u.agency.name if u.agency else None) for u in db_session().scalars(sa.select(User))}


def test_demo_seed_creates_the_demo_agency_and_logins_once(cli_app):
    runner = cli_app.test_cli_runner()
    first = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == 0, first.output
    assert "angelegt: Agentur Demo-Agentur" in first.output
    second = runner.invoke(args=["demo", "seed"])
    assert second.exit_code == 0
    assert "bereits vorhanden" in second.output
    assert _users(cli_app) == {
        "vermittler@demo.example": (Role.BROKER, "Demo-Agentur"),
        "agenturleiter@demo.example": (Role.MANAGER, "Demo-Agentur"),
        "innendienst@demo.example": (Role.BACKOFFICE, None),
    }
    with cli_app.app_context():
        user = db_session().scalar(sa.select(User).where(User.email == "vermittler@demo.example"))
        assert verify_password(user.password_hash, DEMO_PASSWORD)


def test_demo_seed_is_refused_in_production(cli_app):
    cli_app.config["APP_ENV"] = "production"
    result = cli_app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code != 0
    assert "in Produktion nicht angelegt" in result.output
    assert _users(cli_app) == {}


def test_users_create_for_an_agency_with_password_from_stdin(cli_app):
    runner = cli_app.test_cli_runner()
    assert runner.invoke(args=["agencies", "create", "--name", "Agentur Süd", "--number", "4711"]).exit_code == 0
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "Eva@Example.org",
            "--name",
            "Eva Eins",
            "--role",
            "agenturleiter",
            "--agency",
            "4711",
            "--password-stdin",
        ],
        input="Kaffeetasse-42!\n",
    )
    assert result.exit_code == 0, result.output
    assert "Kaffeetasse" not in result.output
    assert _users(cli_app) == {"eva@example.org": (Role.MANAGER, "Agentur Süd")}
    listing = runner.invoke(args=["users", "list"]).output
    assert "eva@example.org\tagenturleiter\t4711\taktiv" in listing


def test_users_create_prompts_twice_for_the_password(cli_app):
    result = cli_app.test_cli_runner().invoke(
        args=["users", "create", "--email", "id@example.org", "--name", "Ida", "--role", "innendienst"],
        input="Kaffeetasse-42!\nKaffeetasse-42!\n",
    )
    assert result.exit_code == 0, result.output
    assert _users(cli_app) == {"id@example.org": (Role.BACKOFFICE, None)}


def test_users_create_refuses_bad_input_with_a_clear_message(cli_app):
    runner = cli_app.test_cli_runner()
    runner.invoke(args=["agencies", "create", "--name", "A", "--number", "1"])
    cases = [
        (["--email", "x@example.org", "--role", "vermittler"], "Kaffeetasse-42!", "gehören zu einer Agentur"),
        (["--email", "x@example.org", "--role", "vermittler", "--agency", "999"], "Kaffeetasse-42!", "Keine Agentur"),
        (["--email", "kein-at", "--role", "vermittler", "--agency", "1"], "Kaffeetasse-42!", "gültige E-Mail"),
        (["--email", "x@example.org", "--role", "vermittler", "--agency", "1"], "kurz", "mindestens 8 Zeichen"),
        (
            ["--email", "x@example.org", "--role", "innendienst", "--agency", "1"],
            "Kaffeetasse-42!",
            "zu keiner Agentur",
        ),
    ]
    for args, password, message in cases:
        result = runner.invoke(
            args=["users", "create", "--name", "X", *args, "--password-stdin"], input=password + "\n"
        )
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
    assert _users(cli_app) == {}


def test_agency_number_is_unique(cli_app):
    runner = cli_app.test_cli_runner()
    runner.invoke(args=["agencies", "create", "--name", "A", "--number", "1"])
    result = runner.invoke(args=["agencies", "create", "--name", "B", "--number", "1"])
    assert result.exit_code != 0
    assert "bereits vergeben" in result.output
    with cli_app.app_context():
        assert db_session().scalar(sa.select(sa.func.count()).select_from(Agency)) == 1


def _vehicle_count(app):
    from calculator.reference import Vehicle

    with app.app_context():
        return db_session().scalar(sa.select(sa.func.count()).select_from(Vehicle))


def test_vehicles_import_is_idempotent(cli_app, tmp_path):
    path = tmp_path / "kba.csv"
    path.write_text(
        "# quelle,KBA\nhsn,tsn,hersteller,handelsname\n0603,BPM,VOLKSWAGEN-VW,GOLF\n0588,bdp,AUDI,Q7\n",
        encoding="utf-8",
    )
    runner = cli_app.test_cli_runner()
    first = runner.invoke(args=["vehicles", "import", str(path)])
    assert first.exit_code == 0, first.output
    assert "Fahrzeuge: 2 Zeilen, 2 neu, 0 aktualisiert" in first.output
    second = runner.invoke(args=["vehicles", "import", str(path)])
    assert "Fahrzeuge: 2 Zeilen, 0 neu, 2 aktualisiert" in second.output
    assert _vehicle_count(cli_app) == 2


def test_a_bad_line_stops_the_import_and_writes_nothing(cli_app, tmp_path):
    rows = "".join(f"{n:04d},AAA,HERSTELLER,MODELL\n" for n in range(1, 6001))  # more than one chunk
    path = tmp_path / "kba.csv"
    path.write_text("hsn,tsn,hersteller,handelsname\n" + rows + "12345,AAA,KAPUTT,X\n", encoding="utf-8")
    result = cli_app.test_cli_runner().invoke(args=["vehicles", "import", str(path)])
    assert result.exit_code != 0
    assert "row 6002: invalid HSN/TSN '12345'/'AAA'" in result.output
    assert _vehicle_count(cli_app) == 0


def test_region_imports_from_the_cli(cli_app, tmp_path):
    places = tmp_path / "plz.csv"
    places.write_text("osm_id,ags,ort,plz,landkreis,bundesland\n1,11000000,Berlin,10115,,Berlin\n", encoding="utf-8")
    classes = tmp_path / "rk.csv"
    classes.write_text("kreis;kh;tk;vk\n11000;11;12;8\n", encoding="utf-8")
    runner = cli_app.test_cli_runner()
    assert "Orte: 1 Zeilen, 1 neu" in runner.invoke(args=["regions", "import-places", str(places)]).output
    result = runner.invoke(args=["regions", "import-classes", str(classes), "--source", "Test"])
    assert "Regionalklassen: 1 Zeilen, 1 neu" in result.output
