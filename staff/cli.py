"""`flask users …` and `flask agencies …`: real accounts, created by an administrator."""

from __future__ import annotations

import sys

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from core import audit, db
from core.passwords import PasswordRule
from core.users import AccountError, Agency, Role, User, create_agency, create_user
from staff.settings import current as current_settings

users_cli = AppGroup("users", help="Staff user accounts.")
agencies_cli = AppGroup("agencies", help="Agencies (Vermittlernummer).")


def password_rule() -> PasswordRule:
    return current_settings().password


@agencies_cli.command("create")
@click.option("--name", required=True, help="Name of the agency.")
@click.option("--number", "broker_number", required=True, help="Vermittlernummer (unique).")
def create_agency_command(name: str, broker_number: str) -> None:
    """Create an agency."""
    s = db.session()
    try:
        agency = create_agency(s, name=name, broker_number=broker_number)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    audit.record(s, "agency_created", actor_label="CLI", object_type="agency", object_id=agency.public_id)
    s.commit()
    click.echo(f"Agentur angelegt: {agency.name} (Vermittlernummer {agency.broker_number})")


@agencies_cli.command("list")
def list_agencies_command() -> None:
    """List agencies."""
    for agency in db.session().scalars(sa.select(Agency).order_by(Agency.broker_number)):
        click.echo(f"{agency.broker_number}\t{agency.name}")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", "full_name", required=True, help="Full name shown in the app.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--agency", "broker_number", help="Vermittlernummer of the agency (not for innendienst).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.option("--phone", help="Phone number shown to the broker's customers in the portal.")
def create_user_command(
    email: str, full_name: str, role: str, broker_number: str | None, password_stdin: bool, phone: str | None
) -> None:
    """Create a staff user; the password is prompted for (or read from stdin), never an argument."""
    s = db.session()
    agency = None
    if broker_number:
        agency = s.scalar(sa.select(Agency).where(Agency.broker_number == broker_number))
        if agency is None:
            raise click.ClickException(f"Keine Agentur mit der Vermittlernummer {broker_number}.")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Passwort", hide_input=True, confirmation_prompt="Passwort wiederholen")
    try:
        user = create_user(
            s,
            email=email,
            full_name=full_name,
            role=Role(role),
            password=password,
            agency=agency,
            rule=password_rule(),
            phone=phone,
        )
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    audit.record(
        s,
        "user_created",
        actor_label="CLI",
        agency_id=user.agency_id,
        object_type="user",
        object_id=user.public_id,
        details={"email": user.email, "role": user.role.value},
    )
    s.commit()
    click.echo(f"Benutzer angelegt: {user.email} ({user.role.label})")


@users_cli.command("list")
def list_users_command() -> None:
    """List staff users."""
    stmt = sa.select(User).order_by(User.role, User.email)
    for user in db.session().scalars(stmt):
        agency = user.agency.broker_number if user.agency else "-"
        state = "aktiv" if user.is_active else "gesperrt"
        click.echo(f"{user.email}\t{user.role.value}\t{agency}\t{state}")
