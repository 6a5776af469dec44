"""The agency manager's page of API clients ("API-Zugänge"): create one (for the agency or one
broker) — the secret is shown once —, revoke it, and each client's webhook delivery log with
"erneut senden"."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from api import clients, webhooks
from api.models import EVENTS, SCOPES, ApiClient
from calculator.forms.fields import SelectField, options
from calculator.forms.legal import CheckboxesField
from core import db
from core.authz import MANAGER_AREA, get_visible_or_404, roles_required, staff_user
from core.forms import Form
from core.users import Role, User
from messaging import backoffice

bp = Blueprint("api_pages", __name__, url_prefix="/agentur/api-zugaenge")


class ClientForm(Form):
    name = StringField(
        "Name des Zugangs",
        description="z. B. der Vergleichsrechner oder Ihr Maklerverwaltungsprogramm",
        validators=[InputRequired("Bitte geben Sie einen Namen für den Zugang ein."), Length(max=120)],
    )
    vermittler = SelectField("Handelt für", choices=[])
    scopes = CheckboxesField("Berechtigungen", choices=options(SCOPES.items()), validate_choice=False)


def _form(manager: User, data: Any = None) -> ClientForm:
    form = ClientForm(formdata=data)
    brokers = db.session().scalars(
        sa.select(User)
        .where(User.agency_id == manager.agency_id, User.role == Role.BROKER, User.is_active.is_(True))
        .order_by(User.full_name)
    )
    form.vermittler.choices = options(
        [("", "die ganze Agentur")] + [(u.public_id, f"nur {u.full_name}") for u in brokers]
    )
    return form


def _page(form: ClientForm, created: tuple[ApiClient, str] | None = None, status: int = 200) -> tuple[str, int]:
    s = db.session()
    found = clients.clients_of(s, staff_user())
    return (
        render_template(
            "api/clients.html",
            form=form,
            clients=found,
            users=clients.acting_users(s, found),
            scopes=SCOPES,
            created=created,
        ),
        status,
    )


@bp.get("/")
@roles_required(*MANAGER_AREA)
def clients_page() -> tuple[str, int]:
    return _page(_form(staff_user()))


@bp.post("/")
@roles_required(*MANAGER_AREA)
def create() -> tuple[str, int]:
    manager = staff_user()
    form = _form(manager, request.form)
    s = db.session()
    if form.validate():
        broker = None
        if form.vermittler.data:
            broker = s.scalar(
                sa.select(User).where(
                    User.public_id == form.vermittler.data,
                    User.agency_id == manager.agency_id,
                    User.role == Role.BROKER,
                )
            )
            if broker is None:
                form.vermittler.errors = ["Bitte wählen Sie einen Vermittler Ihrer Agentur."]
                return _page(form, status=422)
        try:
            created = clients.create_client(s, manager, form.name.data or "", list(form.scopes.data or []), broker)
        except clients.ClientError as error:
            s.rollback()
            getattr(form, error.field).errors = [error.message]
            return _page(form, status=422)
        s.commit()
        return _page(_form(manager), created=created, status=201)
    return _page(form, status=422)


@bp.post("/<public_id>/widerrufen")
@roles_required(*MANAGER_AREA)
def revoke(public_id: str) -> BaseResponse:
    s = db.session()
    client = get_visible_or_404(s, ApiClient, staff_user(), public_id=public_id)
    if clients.revoke_client(s, staff_user(), client):
        flash(f"Der Zugang „{client.name}“ ist widerrufen; seine Tokens gelten nicht mehr.", "success")
    s.commit()
    return redirect(url_for("api_pages.clients_page"))


@bp.get("/<public_id>/webhooks")
@roles_required(*MANAGER_AREA)
def webhook_log(public_id: str) -> str:
    s = db.session()
    client = get_visible_or_404(s, ApiClient, staff_user(), public_id=public_id)
    return render_template(
        "api/webhooks.html",
        client=client,
        endpoints=webhooks.endpoints_of(s, client),
        messages=webhooks.delivery_log(s, client),
        events=EVENTS,
    )


@bp.post("/<public_id>/webhooks/<message_id>/erneut")
@roles_required(*MANAGER_AREA)
def resend(public_id: str, message_id: str) -> BaseResponse:
    s = db.session()
    client = get_visible_or_404(s, ApiClient, staff_user(), public_id=public_id)
    if not webhooks.in_log(s, client, message_id):
        return redirect(url_for("api_pages.webhook_log", public_id=public_id))
    try:
        backoffice.retry(s, staff_user(), message_id)
    except backoffice.BackofficeError as error:
        s.rollback()
        flash(str(error), "error")
    else:
        s.commit()
        flash("Die Zustellung wird jetzt erneut versucht.", "success")
    return redirect(url_for("api_pages.webhook_log", public_id=public_id))
