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
