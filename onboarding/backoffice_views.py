"""The back office's part of the portal: switch a customer's two-factor login off when he lost his
phone and his recovery codes — on a request verified outside the portal, audited with how."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from calculator.forms.fields import options
from core import db
from core.authz import BACKOFFICE_AREA, roles_required, staff_user
from onboarding import bounces, two_factor
from onboarding.forms import AddressCorrectionForm, CustomerSearchForm, TwoFactorResetForm
from onboarding.login import customer_by_public_id, find_customer
from onboarding.models import PortalAccount

bp = Blueprint("portal_backoffice", __name__, url_prefix="/innendienst")


def _reset_form() -> TwoFactorResetForm:
    form = TwoFactorResetForm()
    form.pruefung.choices = options(list(two_factor.RESET_CHECKS.items()))
    return form


def _page(
    search: CustomerSearchForm, form: TwoFactorResetForm, found: PortalAccount | None, searched: bool, status: int = 200
) -> tuple[str, int]:
    return render_template("staff/two_factor.html", search=search, form=form, found=found, searched=searched), status


@bp.get("/zwei-faktor")
@roles_required(*BACKOFFICE_AREA)
def two_factor_lookup() -> tuple[str, int]:
    """Find the customer by e-mail address or Vertragsnummer."""
    search = CustomerSearchForm(request.args)
    searched = "kennung" in request.args and search.validate()
    found = find_customer(db.session(), search.kennung.data or "") if searched else None
    return _page(search, _reset_form(), found, searched)


@bp.post("/zwei-faktor/<public_id>")
@roles_required(*BACKOFFICE_AREA)
def two_factor_reset(public_id: str) -> BaseResponse | tuple[str, int]:
    s = db.session()
    customer = customer_by_public_id(s, public_id)
    if customer is None:
        abort(404)
    form = _reset_form()
    search = CustomerSearchForm(formdata=None, data={"kennung": customer.email})
    if form.validate():
        user = staff_user()
        try:
            two_factor.reset_by_backoffice(s, user, customer, form.pruefung.data or "", form.bemerkung.data or "")
        except two_factor.TwoFactorError as error:
            s.rollback()
            if error.field:
                form[error.field].errors = [*form[error.field].errors, error.message]
            else:
                form.form_errors.append(error.message)
        else:
            s.commit()
            flash(
                f"Die Zwei-Faktor-Anmeldung von {customer.email} ist zurückgesetzt; "
                "der Kunde ist per E-Mail informiert.",
                "success",
            )
            return redirect(url_for("portal_backoffice.two_factor_lookup", kennung=customer.email))
    return _page(search, form, customer, True, 422)


@bp.route("/nachrichten/<public_id>/adresse", methods=["GET", "POST"])
@roles_required(*BACKOFFICE_AREA)
def correct_address(public_id: str) -> BaseResponse | tuple[str, int]:
    """Adresse korrigieren for an e-mail the recipient's server refused for good (5xx): the contract's,
    the customer's and a not yet activated access's address corrected, the message re-sent, the
    broker told."""
    s = db.session()
    message = bounces.correctable(s, public_id)
    if message is None:
        abort(404)
    form = AddressCorrectionForm()
    if request.method == "POST" and form.validate():
        try:
            user = staff_user()
            bounces.correct_address(s, user, public_id, form.email.data or "")
        except bounces.CorrectionError as error:
            s.rollback()
            message = bounces.correctable(s, public_id)
            if error.field:
                form.email.errors = [error.message]
            else:
                form.form_errors.append(error.message)
            return render_template("messaging/correct_address.html", form=form, message=message), 422
        s.commit()
        flash(f"Die Adresse ist korrigiert; die E-Mail geht an {(form.email.data or '').lower()}.", "success")
        return redirect(url_for("messaging.messages", status="failed"))
    status = 422 if form.errors else 200
    return render_template("messaging/correct_address.html", form=form, message=message), status
