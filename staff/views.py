"""Login, logout and the start page of each role."""

from __future__ import annotations

from typing import Any

import sqlalchemy.orm as so
from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, logout_user
from werkzeug.wrappers import Response as BaseResponse

from core import audit, db, panels, sessions, throttle
from core.audit import AuditEntry
from core.authz import BACKOFFICE_AREA, MANAGER_AREA, roles_required, staff_user
from core.forms import ChangePasswordForm
from core.security import is_safe_redirect
from core.users import Role, User, active_counts, team_of
from staff import services
from staff.forms import LoginForm
from staff.settings import current as current_settings

bp = Blueprint("staff", __name__)

LOGIN_FAILED = "E-Mail-Adresse oder Passwort ungültig."
HOME_ENDPOINTS = {
    Role.BROKER: "staff.broker_home",
    Role.MANAGER: "staff.manager_home",
    Role.BACKOFFICE: "staff.backoffice_home",
}


def _log_in(s: so.Session, user: User) -> None:
    sessions.log_in(s, "staff", user)


@bp.get("/")
def index() -> BaseResponse:
    if not current_user.is_authenticated:
        return redirect(url_for("staff.login"))
    if current_user.is_customer:
        return redirect(url_for("portal.documents"))
    return redirect(url_for(HOME_ENDPOINTS[current_user.role]))


@bp.route("/anmelden", methods=["GET", "POST"])
def login() -> BaseResponse | str | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(url_for("staff.index"))
    form = LoginForm()
    if form.validate_on_submit():
        s = db.session()
        attempt = services.log_in(
            s, form.email.data or "", form.password.data or "", request.remote_addr, current_settings().login
        )
        if attempt.wait_seconds:
            message = throttle.wait_message(attempt.wait_seconds)
            form.password.errors = [message]
            form.form_errors.append(message)
            form.password.data = ""
            return render_template("staff/login.html", form=form), 429
        if attempt.account is None:
            form.password.errors = [LOGIN_FAILED]
            form.form_errors.append(LOGIN_FAILED)
        else:
            _log_in(s, attempt.account)
            target = request.args.get("next")
            return redirect(target if is_safe_redirect(target) else url_for(HOME_ENDPOINTS[attempt.account.role]))
    form.password.data = ""  # never echo a password back
    return render_template("staff/login.html", form=form)


@bp.post("/abmelden")
@login_required
def logout() -> BaseResponse:
    s = db.session()
    services.log_out(s, staff_user(), request.remote_addr)
    s.commit()
    logout_user()
    session.clear()
    flash("Sie wurden abgemeldet.", "success")
    return redirect(url_for("staff.login"))


@bp.route("/passwort-aendern", methods=["GET", "POST"])
@login_required
def change_password() -> BaseResponse | str | tuple[str, int]:
    if current_user.is_customer:
        return redirect(url_for("onboarding.change_password"))
    form = ChangePasswordForm()
    if form.validate_on_submit():
        s = db.session()
        user = staff_user()
        rule = current_settings().password
        errors = services.change_password(
            s,
            user,
            form.aktuelles_passwort.data or "",
            form.passwort.data or "",
            form.passwort2.data or "",
            rule,
            request.remote_addr,
        )
        if not errors:
            _log_in(s, user)  # every other session ended: this browser goes on with a new one
            flash("Ihr Passwort wurde geändert. Ihre anderen Sitzungen wurden beendet.", "success")
            return redirect(url_for("staff.index"))
        for name, messages in errors.items():
            form[name].errors = list(messages)
    form.aktuelles_passwort.data = form.passwort.data = form.passwort2.data = ""
    html = render_template("account/change_password.html", form=form)
    return (html, 422) if form.errors else html


def _panels(user: User) -> list[tuple[str, dict[str, Any]]]:
    """What the feature packages show on this user's start page (core.panels)."""
    return panels.for_user(current_app, db.session(), user)


def _recent_activity(user: User, limit: int = 10) -> list[AuditEntry]:
    return audit.recent(db.session(), user, limit)


@bp.get("/vermittler/")
@roles_required(Role.BROKER, Role.MANAGER)
def broker_home() -> str:
    user = staff_user()
    return render_template("staff/home_broker.html", activity=_recent_activity(user), panels=_panels(user))


@bp.get("/agentur/")
@roles_required(*MANAGER_AREA)
def manager_home() -> str:
    user = staff_user()
    return render_template(
        "staff/home_manager.html",
        team=team_of(db.session(), user),
        activity=_recent_activity(user),
        panels=_panels(user),
    )


@bp.get("/innendienst/")
@roles_required(*BACKOFFICE_AREA)
def backoffice_home() -> str:
    user = staff_user()
    counts = active_counts(db.session())
    return render_template(
        "staff/home_backoffice.html", counts=counts, activity=_recent_activity(user, 20), panels=_panels(user)
    )
