"""Login, logout and the start page of each role."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response as BaseResponse

from core import audit, clock, db
from core.audit import AuditEntry
from core.authz import BACKOFFICE_AREA, MANAGER_AREA, roles_required, scoped
from core.extensions import limiter
from core.security import is_safe_redirect
from core.users import Agency, Role, User, authenticate, normalize_email
from staff.forms import LoginForm

bp = Blueprint("staff", __name__)

LOGIN_FAILED = "E-Mail-Adresse oder Passwort ungültig."
HOME_ENDPOINTS = {
    Role.BROKER: "staff.broker_home",
    Role.MANAGER: "staff.manager_home",
    Role.BACKOFFICE: "staff.backoffice_home",
}


def _account_key() -> str:
    return "login-account:" + normalize_email(request.form.get("email", ""))[:254]


def _failed(response: Response) -> bool:
    # only failed attempts count against the limits; a successful login redirects
    return response.status_code != 302


@bp.get("/")
def index() -> BaseResponse:
    if not current_user.is_authenticated:
        return redirect(url_for("staff.login"))
    if current_user.is_customer:
        return redirect(url_for("portal.documents"))
    return redirect(url_for(HOME_ENDPOINTS[current_user.role]))


@bp.route("/anmelden", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"], deduct_when=_failed)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_account_key,
    methods=["POST"],
    deduct_when=_failed,
)
def login() -> BaseResponse | str:
    if current_user.is_authenticated:
        return redirect(url_for("staff.index"))
    form = LoginForm()
    if form.validate_on_submit():
        s = db.session()
        user = authenticate(s, form.email.data or "", form.password.data or "")
        if user is None:
            known = s.scalar(sa.select(User).where(User.email == normalize_email(form.email.data or "")))
            audit.record(
                s,
                "login_failed",
                actor=known,
                actor_label=normalize_email(form.email.data or "")[:254],
                client_address=request.remote_addr,
            )
            s.commit()
            form.password.errors = [LOGIN_FAILED]
            form.form_errors.append(LOGIN_FAILED)
        else:
            audit.record(s, "login", actor=user, client_address=request.remote_addr)
            s.commit()
            session.clear()  # no session fixation: a fresh session for the logged-in user
            session.permanent = True
            session["login_at"] = clock.now().timestamp()
            login_user(user)
            target = request.args.get("next")
            return redirect(target if is_safe_redirect(target) else url_for(HOME_ENDPOINTS[user.role]))
    form.password.data = ""  # never echo a password back
    return render_template("staff/login.html", form=form)


@bp.post("/abmelden")
@login_required
def logout() -> BaseResponse:
    s = db.session()
    audit.record(s, "logout", actor=current_user._get_current_object(), client_address=request.remote_addr)
    s.commit()
    logout_user()
    session.clear()
    flash("Sie wurden abgemeldet.", "success")
    return redirect(url_for("staff.login"))


def _recent_activity(user: User, limit: int = 10) -> list[AuditEntry]:
    stmt = sa.select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    return list(db.session().scalars(scoped(stmt, AuditEntry, user)))


@bp.get("/vermittler/")
@roles_required(Role.BROKER, Role.MANAGER)
def broker_home() -> str:
    user: User = current_user._get_current_object()
    return render_template("staff/home_broker.html", activity=_recent_activity(user))


@bp.get("/agentur/")
@roles_required(*MANAGER_AREA)
def manager_home() -> str:
    user: User = current_user._get_current_object()
    team = db.session().scalars(
        sa.select(User).where(User.agency_id == user.agency_id).order_by(User.role, User.full_name)
    )
    return render_template("staff/home_manager.html", team=list(team), activity=_recent_activity(user))


@bp.get("/innendienst/")
@roles_required(*BACKOFFICE_AREA)
def backoffice_home() -> str:
    user: User = current_user._get_current_object()
    s = db.session()
    counts = {
        "agencies": s.scalar(sa.select(sa.func.count()).select_from(Agency)),
        "users": s.scalar(sa.select(sa.func.count()).select_from(User).where(User.is_active.is_(True))),
    }
    return render_template("staff/home_backoffice.html", counts=counts, activity=_recent_activity(user, 20))
