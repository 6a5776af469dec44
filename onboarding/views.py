"""The access link page, activation, customer login and logout, forgotten and changed passwords."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user
from werkzeug.wrappers import Response as BaseResponse

from calculator.forms.fields import parse_german_date
from core import clock, db, sessions, throttle
from core.contact import mask_mobile
from core.extensions import htmx, limiter
from onboarding import access, consent, registration, two_factor
from onboarding import login as customer_login
from onboarding.access import find_link, link_state, open_link, send_sms_code
from onboarding.forms import (
    ActivationForm,
    ChangePasswordForm,
    ConsentForm,
    CustomerLoginForm,
    ForgotForm,
    NewPasswordForm,
    RecoveryLoginForm,
    RegistrationForm,
    SecondFactorForm,
)
from onboarding.login import customer_by_public_id, find_reset, log_in, request_password_reset
from onboarding.models import CodeChannel, PortalAccount
from onboarding.portal import customer_required
from onboarding.settings import current as current_settings

bp = Blueprint("onboarding", __name__)

LOGIN_FAILED = "E-Mail-Adresse oder Passwort ungültig."
ALREADY_CONFIRMED = "Ihre E-Mail-Adresse ist bereits bestätigt – Ihr Zugangs-Code kommt per Post."
FORGOT_ANSWER = (
    "Wenn zu Ihren Angaben ein aktiviertes Kunden-Portal gehört, haben wir Ihnen eine E-Mail mit einem Link "
    "zum Vergeben eines neuen Passworts gesendet."
)


def _log_in(customer: PortalAccount) -> None:
    sessions.log_in(db.session(), "customer", customer)


def _link_page(token: str, form: ActivationForm | None = None, message: str | None = None) -> tuple[str, int]:
    s = db.session()
    link = find_link(s, token)
    state = link_state(link)
    if state != "valid" or link is None:
        status = 404 if state == "unknown" else 410
        self_registered = link is not None and link.self_registered
        return render_template("onboarding/link_invalid.html", state=state, self_registered=self_registered), status
    if link.self_registered and link.confirmed_at is None:  # seed 002: first the e-mail address is confirmed
        return render_template("onboarding/confirm_registration.html", token=token), 200
    settings = current_settings()
    status = 200 if form is None else 422
    form = form or ActivationForm()
    if link.code_channel is CodeChannel.SMS:  # six digits: the phone's number pad and SMS autofill
        form.zugangscode.render_kw = {**(form.zugangscode.render_kw or {}), "inputmode": "numeric", "maxlength": 6}
    return render_template(
        "onboarding/link.html",
        token=token,
        link=link,
        form=form,
        masked=mask_mobile(link.mobile),
        letter=link.code_channel is CodeChannel.LETTER,
        message=message,
        needs_consent=not consent.is_current(link.customer, settings),
        code_dead=link.self_registered and not registration.code_usable(s, link, settings),
    ), status


@bp.get("/zugang/<token>")
def link(token: str) -> tuple[str, int]:
    """The page of the access link. A GET sends nothing (mail scanners prefetch links): the code is
    requested by the opened page itself (htmx POST on load, or the button without JavaScript)."""
    s = db.session()
    found = find_link(s, token)
    if link_state(found) == "valid" and found is not None:
        open_link(s, found)
        s.commit()
    return _link_page(token)


@bp.post("/zugang/<token>/code")
def send_code(token: str) -> BaseResponse | str:
    s = db.session()
    found = find_link(s, token)
    if link_state(found) != "valid" or found is None:
        return redirect(url_for("onboarding.link", token=token))
    result = send_sms_code(s, found, resend=request.form.get("erneut") == "1", settings=current_settings())
    s.commit()
    if htmx:
        return render_template(
            "onboarding/_code_status.html", result=result, token=token, masked=mask_mobile(found.mobile)
        )
    messages = {
        "sent": "Der Zugangs-Code ist unterwegs.",
        "active": "Ihr Zugangs-Code wurde bereits gesendet und ist noch gültig.",
        "wait": f"Bitte warten Sie noch {result.wait_seconds} Sekunden, bevor Sie einen neuen Code anfordern.",
        "limit": "Sie haben heute schon 5 Codes angefordert. Bitte versuchen Sie es morgen wieder.",
        "letter": "Den Zugangs-Code haben wir Ihnen per Post gesendet.",
    }
    flash(messages[result.status], "info")
    return redirect(url_for("onboarding.link", token=token))


@bp.post("/zugang/<token>")
def activate(token: str) -> BaseResponse | tuple[str, int]:
    s = db.session()
    found = find_link(s, token)
    if link_state(found) != "valid" or found is None:
        return _link_page(token)
    form = ActivationForm()
    needs_consent = not consent.is_current(found.customer, current_settings())
    missing = form.consent_errors() if needs_consent else {}
    if not form.validate() or missing:
        for name, errors in missing.items():
            form[name].errors = errors
        form.passwort.data = form.passwort2.data = ""
        return _link_page(token, form)
    result = access.activate(
        s,
        found,
        form.email.data or "",
        form.zugangscode.data or "",
        form.passwort.data or "",
        form.passwort2.data or "",
        current_settings(),
        consented=needs_consent,
    )
    s.commit()  # wrong entries count, also when activation failed
    if result.customer is None:
        for name, errors in result.errors.items():
            form[name].errors = list(errors)
        form.passwort.data = form.passwort2.data = ""
        return _link_page(token, form, result.message)
    _log_in(result.customer)
    flash("Willkommen in Ihrem Kunden-Portal. Ihr Passwort ist gespeichert.", "success")
    return redirect(url_for("portal.documents"))


@bp.post("/zugang/<token>/bestaetigen")
def confirm_registration(token: str) -> BaseResponse | tuple[str, int]:
    """Seed 002: the e-mail address of a self-registration confirmed (a second click is harmless)."""
    s = db.session()
    found = find_link(s, token)
    if link_state(found) != "valid" or found is None or not found.self_registered:
        return _link_page(token)
    result = registration.confirm(s, found, current_settings())
    s.commit()
    if result.status == "confirmed":
        flash("Vielen Dank – Ihre E-Mail-Adresse ist bestätigt.", "success")
    else:
        flash(ALREADY_CONFIRMED, "info")
    return redirect(url_for("onboarding.link", token=token))


@bp.post("/zugang/<token>/neuer-code")
@limiter.limit(lambda: current_app.config["REGISTRATION_LIMIT_PER_ADDRESS"])
def new_code(token: str) -> BaseResponse | tuple[str, int]:
    """ "Neuen Code anfordern": a self-registered customer's code expired or was used up."""
    s = db.session()
    found = find_link(s, token)
    if link_state(found) != "valid" or found is None or not found.self_registered or found.confirmed_at is None:
        return _link_page(token)
    status = registration.new_letter_code(s, found, current_settings())
    s.commit()
    messages = {
        "sent": "Ein neuer Zugangs-Code ist unterwegs zu Ihnen – per Post an die Anschrift Ihres Vertrags.",
        "usable": "Ihr Brief mit dem Zugangs-Code ist unterwegs; der Code ist noch gültig. Kommt der Brief nicht "
        "innerhalb einer Woche an, fordern Sie hier einen neuen an.",
        "limit": "Wir haben Ihnen in den letzten 30 Tagen schon mehrere Briefe gesendet. Bitte wenden Sie sich "
        "an Ihren Vermittler.",
    }
    flash(messages[status], "success" if status == "sent" else "info")
    return redirect(url_for("onboarding.link", token=token))


@bp.route("/portal/registrieren", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["REGISTRATION_LIMIT_PER_ADDRESS"], methods=["POST"])
def register() -> BaseResponse | tuple[str, int]:
    """ "Jetzt registrieren" (seed 002). The same answer, after the same work, whether or not the data
    match a contract: what happened is said in the e-mail only (onboarding.registration)."""
    form = RegistrationForm()
    settings = current_settings()
    if request.method == "POST":
        if not form.check(clock.today()):
            form.email2.data = ""  # typed again, not copied: the point of asking twice
            return render_template("onboarding/register.html", form=form), 422
        s = db.session()
        wait = registration.request_registration(
            s,
            form.vertragsnummer.data or "",
            parse_german_date(form.geburtsdatum.data or "") or clock.today(),
            form.email.normalized or "",
            request.remote_addr,
            settings,
        )
        s.commit()
        if wait:
            form.form_errors.append(registration.wait_message(wait))
            return render_template("onboarding/register.html", form=form), 429
        answer = registration.REGISTERED_ANSWER.format(hours=settings.registration_hours)
        return render_template("onboarding/registered.html", answer=answer), 200
    return render_template("onboarding/register.html", form=form), 200


@bp.get("/portal/nutzungsbedingungen")
def terms() -> str:
    return render_template("portal/texts/terms.html", version=current_settings().terms_version)


@bp.get("/portal/datenschutz")
def privacy() -> str:
    return render_template("portal/texts/privacy.html", version=current_settings().privacy_version)


@bp.route("/portal/zustimmung", methods=["GET", "POST"])
def consent_page() -> BaseResponse | tuple[str, int]:
    """A new version of the Nutzungsbedingungen or Datenschutzhinweise: asked at the next login; the
    portal is usable after the consent only (portal_auth.customer_required sends him here)."""
    if not current_user.is_authenticated or not current_user.is_customer:
        return redirect(url_for("onboarding.login"))
    customer: PortalAccount = current_user._get_current_object()
    settings = current_settings()
    form = ConsentForm()
    if request.method == "POST" and form.validate():
        missing = form.consent_errors()
        if not missing:
            s = db.session()
            consent.record_current(s, customer, "login", settings)
            s.commit()
            flash("Vielen Dank für Ihre Zustimmung.", "success")
            return redirect(url_for("portal.documents"))
        for name, errors in missing.items():
            form[name].errors = errors
        return render_template("onboarding/consent.html", form=form, customer=customer, current=False), 422
    current = consent.is_current(customer, settings)
    return render_template("onboarding/consent.html", form=form, customer=customer, current=current), 200


@bp.route("/portal/anmelden", methods=["GET", "POST"])
def login() -> BaseResponse | str | tuple[str, int]:
    if current_user.is_authenticated and current_user.is_customer:
        return redirect(url_for("portal.documents"))
    form = CustomerLoginForm()
    if form.validate_on_submit():
        attempt = log_in(
            db.session(),
            form.kennung.data or "",
            form.passwort.data or "",
            request.remote_addr,
            current_settings().login,
        )
        if attempt.wait_seconds:
            message = throttle.wait_message(attempt.wait_seconds)
            form.passwort.errors = [message]
            form.form_errors.append(message)
            form.passwort.data = ""
            return render_template("onboarding/login.html", form=form), 429
        if attempt.account is not None:
            if attempt.account.two_factor:  # the password was right; the code from the app follows
                return _ask_second_factor(attempt.account)
            _log_in(attempt.account)
            return redirect(url_for("portal.documents"))
        form.passwort.errors = [LOGIN_FAILED]
        form.form_errors.append(LOGIN_FAILED)
    form.passwort.data = ""
    return render_template("onboarding/login.html", form=form)


def _ask_second_factor(customer: PortalAccount) -> BaseResponse:
    """Remember (signed, in the session cookie) whose password was right and until when the code
    may follow; the count of wrong codes is kept on the server (two_factor.check_login)."""
    minutes = current_settings().totp_login_minutes
    session["second_factor"] = {"customer": customer.public_id, "until": clock.now().timestamp() + minutes * 60}
    return redirect(url_for("onboarding.second_factor"))


@bp.route("/portal/anmelden/code", methods=["GET", "POST"])
def second_factor() -> BaseResponse | str | tuple[str, int]:
    """The second step of a login with two-factor login on: the code from the app (or, with
    ?wiederherstellung=1, a recovery code)."""
    pending = session.get("second_factor") or {}
    s = db.session()
    customer = customer_by_public_id(s, pending.get("customer", ""))
    if customer is None or pending.get("until", 0) < clock.now().timestamp():
        session.pop("second_factor", None)
        flash("Bitte melden Sie sich erneut mit Ihrem Passwort an.", "info")
        return redirect(url_for("onboarding.login"))
    recovery = request.values.get("wiederherstellung") == "1"
    form = RecoveryLoginForm() if recovery else SecondFactorForm()
    if form.validate_on_submit():
        check = two_factor.check_login(s, customer, form.code.data or "", current_settings(), request.remote_addr)
        if check.status in ("ok", "recovery"):
            session.pop("second_factor", None)
            _log_in(customer)
            s.commit()
            if check.status == "recovery":
                flash(
                    f"Sie haben einen Wiederherstellungscode verwendet; {check.recovery_left} sind noch übrig. "
                    "Unter „Meine Daten“ → „Anmeldung und Sicherheit“ erzeugen Sie neue.",
                    "info",
                )
            return redirect(url_for("portal.documents"))
        messages = {
            "wait": throttle.wait_message(check.wait_seconds),
            "replayed": "Dieser Code wurde bereits verwendet. Bitte warten Sie auf den nächsten Code Ihrer App.",
            "wrong": "Der Code stimmt nicht."
            if not recovery
            else "Der Wiederherstellungscode stimmt nicht oder wurde schon verwendet.",
        }
        form.code.errors = [messages[check.status]]
        form.code.data = ""
        return render_template("onboarding/second_factor.html", form=form, recovery=recovery), (
            429 if check.status == "wait" else 422
        )
    return render_template("onboarding/second_factor.html", form=form, recovery=recovery)


@bp.post("/portal/abmelden")
def logout() -> BaseResponse:
    if current_user.is_authenticated and current_user.is_customer:
        s = db.session()
        sessions.end(s, "customer", current_user.login_token)  # the cookie is dead on the server too
        s.commit()
    logout_user()
    session.clear()
    flash("Sie wurden abgemeldet.", "success")
    return redirect(url_for("onboarding.login"))


@bp.route("/portal/passwort-vergessen", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["PASSWORD_FORGOT_LIMIT_PER_ADDRESS"], methods=["POST"])
def forgot_password() -> BaseResponse | str:
    form = ForgotForm()
    if form.validate_on_submit():
        s = db.session()
        request_password_reset(s, form.kennung.data or "")
        s.commit()
        flash(FORGOT_ANSWER, "info")  # the same answer whether or not the account exists
        return redirect(url_for("onboarding.login"))
    return render_template("onboarding/forgot.html", form=form)


@bp.route("/portal/passwort-neu/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> BaseResponse | str | tuple[str, int]:
    s = db.session()
    reset = find_reset(s, token)
    if reset is None:
        return render_template("onboarding/link_invalid.html", state="reset"), 410
    form = NewPasswordForm()
    if form.validate_on_submit():
        result = customer_login.reset_password(
            s, reset, form.passwort.data or "", form.passwort2.data or "", current_settings()
        )
        if result.message:  # a parallel submit used the link first
            s.rollback()
            return render_template("onboarding/link_invalid.html", state="reset"), 410
        if result.customer is not None:
            s.commit()
            if result.customer.two_factor:  # a reset link alone does not pass the second factor
                flash("Ihr neues Passwort ist gespeichert. Bitte bestätigen Sie die Anmeldung mit dem Code.", "success")
                return _ask_second_factor(result.customer)
            _log_in(result.customer)
            flash("Ihr neues Passwort ist gespeichert.", "success")
            return redirect(url_for("portal.documents"))
        for name, errors in result.errors.items():
            form[name].errors = list(errors)
    return render_template("onboarding/reset.html", form=form)


@bp.route("/portal/passwort-aendern", methods=["GET", "POST"])
@customer_required
def change_password() -> BaseResponse | str:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        s = db.session()
        customer: PortalAccount = current_user._get_current_object()
        result = customer_login.change_password(
            s,
            customer,
            form.aktuelles_passwort.data or "",
            form.passwort.data or "",
            form.passwort2.data or "",
            current_settings(),
        )
        if result.customer is not None:
            s.commit()
            _log_in(result.customer)  # the session token rotated: continue with a fresh session
            flash("Ihr Passwort wurde geändert.", "success")
            return redirect(url_for("portal.documents"))
        for name, errors in result.errors.items():
            form[name].errors = list(errors)
    return render_template("account/change_password.html", form=form)
