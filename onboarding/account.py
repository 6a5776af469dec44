"""The portal's "Meine Daten": Vertragsdaten ändern (address, bank account), a new e-mail address
or mobile number (confirmed from the new one first), and "Anmeldung und Sicherheit" (password,
optional two-factor login)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from calculator.forms.fields import options
from contracts.documents import mask_iban
from contracts.forms import MANDATE_TEXT
from contracts.models import Contract
from contracts.settings import current as contract_settings
from core import clock, db
from core.contact import mask_mobile, normalize_phone
from core.formatting import TIMEZONE, numbers_together
from core.forms import show_error
from onboarding import contact_changes, self_service, two_factor
from onboarding.forms import (
    DataChangeForm,
    EmailChangeForm,
    MobileChangeForm,
    MobileCodeForm,
    TotpDisableForm,
    TotpSetupForm,
)
from onboarding.models import ContactKind
from onboarding.portal_auth import customer_required, portal_account
from onboarding.settings import current as current_settings

Page = BaseResponse | str | tuple[str, int]

bp = Blueprint("my_data", __name__, url_prefix="/portal")


@bp.get("/daten")
@customer_required
def index() -> str:
    """What we have of him: e-mail, mobile, address and bank account per contract, open requests."""
    s, customer, now = db.session(), portal_account(), clock.now()
    running = self_service.running_contracts(s, customer, now.astimezone(TIMEZONE).date())
    mobile = self_service.current_mobile(s, customer)
    return render_template(
        "portal/data.html",
        customer=customer,
        mobile=normalize_phone(mobile) if mobile else None,
        contracts=running,
        masked_iban=mask_iban,
        email_pending=self_service.pending(s, customer, ContactKind.EMAIL, now),
        mobile_pending=self_service.pending(s, customer, ContactKind.MOBILE, now),
    )


@bp.route("/daten/anschrift", methods=["GET", "POST"])
@customer_required
def change_address() -> Page:
    """Anschrift und Bankverbindung: from today, for the contracts he ticks (a Nachtrag each)."""
    s, customer = db.session(), portal_account()
    today = clock.today()
    running = self_service.running_contracts(s, customer, today)
    if not running:
        flash("Sie haben keinen laufenden Vertrag, dessen Daten Sie ändern können.", "info")
        return redirect(url_for("my_data.index"))
    newest = running[0].customer
    if request.method == "GET":
        form = DataChangeForm(
            formdata=None,
            data={
                "strasse": newest.get("street", ""),
                "plz": newest.get("plz", ""),
                "ort": newest.get("city", ""),
                "kontoinhaber": running[0].account_holder or customer.full_name,
                "vertraege": [c.public_id for c in running],
            },
        )
    else:
        form = DataChangeForm()
    form.vertraege.choices = options([(c.public_id, _contract_label(c)) for c in running])
    if request.method == "POST" and form.check():
        change = self_service.DataChange(
            street=form.strasse.data or "",
            plz=form.plz.data or "",
            city=form.ort.data or "",
            account_holder=form.kontoinhaber.data or "",
            iban=form.iban_compact,
            mandate_accepted=form.sepa_mandat.data,
            contracts=tuple(form.vertraege.data or ()),
        )
        try:
            versions = self_service.change_data(
                s,
                customer,
                change,
                catalog=contract_settings().catalog,
                rules=contract_settings().rules,
                today=today,
                pdf_workers=contract_settings().pdf_workers,
            )
        except self_service.SelfServiceError as error:
            s.rollback()
            show_error(form, error)
        else:
            s.commit()
            numbers = ", ".join(str(v.endorsement_no) for v in versions)
            flash(
                f"Ihre Änderung ist gespeichert (Nachtrag Nr. {numbers}). Den Nachtrag finden Sie unter "
                "„Meine Dokumente“; eine Bestätigung ist per E-Mail unterwegs.",
                "success",
            )
            return redirect(url_for("my_data.index"))
    status = 422 if request.method == "POST" else 200
    return render_template("portal/change_address.html", form=form, mandate_text=MANDATE_TEXT), status


def _contract_label(contract: Contract) -> Markup:
    product = "Kfz-Versicherung" if contract.product == "kfz" else "Rechtsschutzversicherung"
    return numbers_together(f"{product} {contract.number}")  # the number kept on one line


@bp.route("/daten/email", methods=["GET", "POST"])
@customer_required
def change_email() -> Page:
    s, customer = db.session(), portal_account()
    form = EmailChangeForm()
    if form.validate_on_submit():
        try:
            contact_changes.request_email_change(s, customer, form.email.data or "", current_settings())
        except self_service.SelfServiceError as error:
            s.rollback()
            show_error(form, error)
        else:
            s.commit()
            flash(
                f"Wir haben einen Bestätigungslink an {form.email.data} gesendet. Ihre neue E-Mail-Adresse gilt, "
                "sobald Sie den Link geöffnet und bestätigt haben.",
                "success",
            )
            return redirect(url_for("my_data.index"))
    status = 422 if request.method == "POST" else 200
    return render_template("portal/change_email.html", form=form, customer=customer), status


@bp.get("/email-bestaetigen/<token>")
def confirm_email_page(token: str) -> tuple[str, int]:
    """The confirmation link's page: a GET changes nothing (mail scanners open links), the button does."""
    change = contact_changes.find_email_change(db.session(), token)
    state = contact_changes.link_state(change, clock.now())
    status = {"valid": 200, "unknown": 404}.get(state, 410)
    return render_template("portal/confirm_email.html", state=state, token=token, change=change), status


@bp.post("/email-bestaetigen/<token>")
def confirm_email(token: str) -> Page:
    s = db.session()
    result = contact_changes.confirm_email_change(
        s, token, catalog=contract_settings().catalog, pdf_workers=contract_settings().pdf_workers
    )
    if result.status != "done":
        s.commit()  # a link that lost to a taken address stays used
        status = 404 if result.status == "unknown" else 410
        return render_template("portal/confirm_email.html", state=result.status, token=token), status
    s.commit()
    flash(
        "Ihre neue E-Mail-Adresse ist bestätigt. Melden Sie sich ab jetzt mit ihr an. "
        "Die Bestätigung finden Sie unter „Meine Dokumente“.",
        "success",
    )
    return redirect(url_for("my_data.index"))


@bp.route("/daten/mobil", methods=["GET", "POST"])
@customer_required
def change_mobile() -> Page:
    s, customer = db.session(), portal_account()
    form = MobileChangeForm()
    if form.validate_on_submit():
        try:
            contact_changes.request_mobile_change(s, customer, form.mobil.data or "", current_settings())
        except self_service.SelfServiceError as error:
            s.rollback()
            show_error(form, error)
        else:
            s.commit()
            flash("Wir haben einen Bestätigungs-Code per SMS an Ihre neue Mobilnummer gesendet.", "success")
            return redirect(url_for("my_data.confirm_mobile"))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "portal/change_mobile.html", form=form, mobile=mask_mobile(self_service.current_mobile(s, customer))
    ), status


@bp.route("/daten/mobil/code", methods=["GET", "POST"])
@customer_required
def confirm_mobile() -> Page:
    s, customer = db.session(), portal_account()
    change = self_service.pending(s, customer, ContactKind.MOBILE, clock.now())
    form = MobileCodeForm()
    if form.validate_on_submit():
        try:
            contact_changes.confirm_mobile_change(
                s,
                customer,
                form.code.data or "",
                current_settings(),
                catalog=contract_settings().catalog,
                pdf_workers=contract_settings().pdf_workers,
            )
        except self_service.SelfServiceError as error:
            s.commit()  # the wrong entry counts
            show_error(form, error)
            form.code.data = ""
        else:
            s.commit()
            flash("Ihre neue Mobilnummer ist bestätigt.", "success")
            return redirect(url_for("my_data.index"))
    status = 422 if request.method == "POST" else 200
    target = mask_mobile(change.new_value) if change else ""
    return render_template("portal/confirm_mobile.html", form=form, target=target, change=change), status


# --- Anmeldung und Sicherheit ------------------------------------------------------------------------------


@bp.get("/sicherheit")
@customer_required
def security() -> str:
    s, customer = db.session(), portal_account()
    return render_template(
        "portal/security.html",
        customer=customer,
        recovery_left=two_factor.recovery_left(s, customer) if customer.two_factor else 0,
        disable_form=TotpDisableForm(formdata=None),
        renew_form=TotpSetupForm(formdata=None, prefix="neu"),
    )


def _codes_page(codes: list[str]) -> BaseResponse:
    """The recovery codes, shown once: never cached."""
    response = make_response(render_template("portal/recovery_codes.html", codes=codes))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/sicherheit/einrichten", methods=["GET", "POST"])
@customer_required
def totp_setup() -> Page:
    s, customer = db.session(), portal_account()
    if customer.two_factor:
        return redirect(url_for("my_data.security"))
    settings = current_settings()
    form = TotpSetupForm()
    if form.validate_on_submit():
        try:
            codes = two_factor.enable(s, customer, form.code.data or "", settings)
        except two_factor.TwoFactorError as error:
            s.rollback()
            show_error(form, error)
            form.code.data = ""
        else:
            s.commit()
            flash("Die Zwei-Faktor-Anmeldung ist eingeschaltet.", "success")
            return _codes_page(codes)
    found = two_factor.setup(s, customer, settings)
    s.commit()
    status = 422 if request.method == "POST" else 200
    response = make_response(render_template("portal/totp_setup.html", form=form, setup=found), status)
    response.headers["Cache-Control"] = "private, no-store"  # the page shows the secret
    return response


@bp.post("/sicherheit/ausschalten")
@customer_required
def totp_disable() -> Page:
    s, customer = db.session(), portal_account()
    form = TotpDisableForm()
    if form.validate_on_submit():
        try:
            two_factor.disable(s, customer, form.passwort.data or "", form.code.data or "", current_settings())
        except two_factor.TwoFactorError as error:
            s.commit()  # a used-up code stays used
            show_error(form, error)
        else:
            s.commit()
            flash("Die Zwei-Faktor-Anmeldung ist ausgeschaltet.", "success")
            return redirect(url_for("my_data.security"))
    form.passwort.data = ""
    return render_template(
        "portal/security.html",
        customer=customer,
        recovery_left=two_factor.recovery_left(s, customer) if customer.two_factor else 0,
        disable_form=form,
        renew_form=TotpSetupForm(formdata=None, prefix="neu"),
    ), 422


@bp.post("/sicherheit/neue-codes")
@customer_required
def recovery_renew() -> Page:
    s, customer = db.session(), portal_account()
    form = TotpSetupForm(prefix="neu")
    if form.validate_on_submit():
        try:
            codes = two_factor.renew_recovery_codes(s, customer, form.code.data or "", current_settings())
        except two_factor.TwoFactorError as error:
            s.commit()
            show_error(form, error)
        else:
            s.commit()
            return _codes_page(codes)
    if not customer.two_factor:
        abort(404)
    return render_template(
        "portal/security.html",
        customer=customer,
        recovery_left=two_factor.recovery_left(s, customer),
        disable_form=TotpDisableForm(formdata=None),
        renew_form=form,
    ), 422
