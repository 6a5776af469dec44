"""Vertrag ändern, kündigen, Kündigung zurücknehmen: the staff pages of a running contract's changes
(the customer's own changes are the portal's, onboarding.account)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from contracts import (
    cancellation,
    changes,
    versions,
)
from contracts.forms import (
    CancelForm,
    ChangeForm,
    WithdrawForm,
)
from contracts.models import (
    Contract,
)
from contracts.settings import current as current_settings
from core import clock, db
from core.authz import BACKOFFICE_AREA, BROKER_AREA, get_visible_or_404, roles_required, staff_user
from core.formatting import date_de, eur
from core.forms import show_error
from core.users import Role

bp = Blueprint("contract_changes", __name__)


@bp.route("/vertraege/<public_id>/aenderung", methods=["GET", "POST"])
@roles_required(*BROKER_AREA, *BACKOFFICE_AREA)
def change_contract(public_id: str) -> BaseResponse | str | tuple[str, int]:
    """Vertrag ändern: address, bank account, Zahlweise, for Kfz vehicle, mileage and drivers."""
    s = db.session()
    found = get_visible_or_404(s, Contract, staff_user(), public_id=public_id)
    if request.method == "GET":
        form = ChangeForm(formdata=None, data=_change_defaults(found))
        return render_template("contracts/change.html", form=form, contract=found)
    form = ChangeForm()
    kfz = found.product == "kfz" and found.risk is not None
    valid = form.check(kfz=kfz, iban_required=found.iban is not None)
    if valid and request.form.get("aktion") == "pruefen":  # "Änderung prüfen": shown, not saved
        try:
            preview = changes.preview_change(
                s,
                found,
                _change_of(form, kfz=kfz),
                catalog=current_settings().catalog,
                rules=current_settings().rules,
                today=clock.today(),
            )
        except versions.ChangeError as error:
            show_error(form, error)
        else:
            s.rollback()  # nothing of the preview is kept
            return render_template("contracts/change.html", form=form, contract=found, preview=preview)
        s.rollback()
    elif valid:
        try:
            version = changes.change_contract(
                s,
                staff_user(),
                found,
                _change_of(form, kfz=kfz),
                expected_version=_int(form.version.data),
                catalog=current_settings().catalog,
                rules=current_settings().rules,
                today=clock.today(),
                pdf_workers=current_settings().pdf_workers,
            )
        except versions.ChangeError as error:
            s.rollback()
            show_error(form, error)
        else:
            s.commit()
            delta = f" Beitragsdifferenz: {eur(version.premium_delta)}." if version.premium_delta else ""
            flash(
                f"Nachtrag Nr. {version.endorsement_no} erstellt "
                f"(wirksam ab {date_de(version.effective_date)}).{delta}",
                "success",
            )
            return redirect(url_for("contracts.contract", public_id=found.public_id))
    return render_template("contracts/change.html", form=form, contract=found), 422


def _change_defaults(contract: Contract) -> dict[str, Any]:
    answers = contract.answers or {}

    def answer(name: str) -> str:
        return (answers.get(name) or [""])[0]

    return {
        "wirksam_ab": date_de(max(clock.today(), contract.start_date)),  # a contract not begun yet: from its start
        "strasse": contract.customer.get("street", ""),
        "plz": contract.customer.get("plz", ""),
        "ort": contract.customer.get("city", ""),
        "kontoinhaber": contract.account_holder or contract.customer_name,
        "iban": contract.iban or "",
        "zahlweise": contract.frequency,
        "hsn": answer("hsn"),
        "tsn": answer("tsn"),
        "fahrleistung": _int(answer("fahrleistung")),
        "fahrerkreis": answer("fahrerkreis"),
        "juengster_fahrer": _int(answer("juengster_fahrer")),
        "version": str(contract.version),
    }


def _change_of(form: ChangeForm, kfz: bool) -> changes.ContractChange:
    return changes.ContractChange(
        effective=form.effective,
        street=form.strasse.data or "",
        plz=form.plz.data or "",
        city=form.ort.data or "",
        account_holder=form.kontoinhaber.data or "",
        iban=form.iban_compact,
        bic=form.bic,
        mandate_accepted=bool(form.sepa_mandat.data),
        frequency=form.zahlweise.data or "",
        hsn=form.hsn.data if kfz else None,
        tsn=form.tsn.data if kfz else None,
        annual_mileage=form.fahrleistung.data if kfz else None,
        driver_circle=form.fahrerkreis.data if kfz else None,
        youngest_driver_age=form.juengster_fahrer.data if kfz else None,
    )


@bp.route("/vertraege/<public_id>/kuendigen", methods=["GET", "POST"])
@roles_required(*BROKER_AREA, *BACKOFFICE_AREA)
def cancel(public_id: str) -> BaseResponse | str | tuple[str, int]:
    """Kündigung zum Ablauf (counted from the day it arrived), or the end by sale or de-registration."""
    s = db.session()
    found = get_visible_or_404(s, Contract, staff_user(), public_id=public_id)
    today = clock.today()
    form = CancelForm(
        formdata=request.form if request.method == "POST" else None,
        data={"version": str(found.version), "eingegangen_am": date_de(today)},
    )
    terms = versions.contract_terms(current_settings().catalog, found)
    after_claim = cancellation.claim_window(s, found, terms, today) if found.main_due else None
    increase = cancellation.increase_window(s, found, today) if found.main_due else None
    withdrawal_open = (
        staff_user().role is Role.BACKOFFICE
        and found.application is not None
        and today <= cancellation.withdrawal_deadline(found, terms)
    )
    form.grund.choices = [
        (k, v)
        for k, v in cancellation.CANCEL_REASONS.items()
        if (k != cancellation.SALE or found.product == "kfz")
        and (k != cancellation.AFTER_CLAIM or after_claim)
        and (k != cancellation.WITHDRAWAL or withdrawal_open)
        and (k != cancellation.AFTER_INCREASE or increase)
    ]
    received = form.received or today
    ends = cancellation.cancellation_date(found.main_due, received, terms.notice_months) if found.main_due else None
    page = {
        "form": form,
        "contract": found,
        "ends": ends,
        "received": received,
        "terms": terms,
        "after_claim": after_claim,
        "withdrawal_until": cancellation.withdrawal_deadline(found, terms) if withdrawal_open else None,
        "increase": increase,
    }
    if request.method == "GET":
        return render_template("contracts/cancel.html", **page)
    form.validate()
    sale = form.grund.data == cancellation.SALE
    date_errors = form.verkauft_am.errors if sale else form.eingegangen_am.errors + form.endet_am.errors
    if not (form.grund.errors or date_errors):
        if not sale and form.received is None:
            form.eingegangen_am.errors = ["Bitte geben Sie an, wann die Kündigung eingegangen ist."]
        else:
            try:
                version = cancellation.cancel_contract(
                    s,
                    staff_user(),
                    found,
                    cancellation.Cancellation(
                        form.grund.data or "", form.bemerkung.data or "", received, form.early_end
                    ),
                    expected_version=_int(form.version.data),
                    catalog=current_settings().catalog,
                    rules=current_settings().rules,
                    today=today,
                    pdf_workers=current_settings().pdf_workers,
                )
            except versions.ChangeError as error:
                s.rollback()
                show_error(form, error)
            else:
                s.commit()
                refund = f" Erstattung: {eur(-version.premium_delta)}." if version.premium_delta else ""
                what = "Widerruf" if form.grund.data == cancellation.WITHDRAWAL else "Kündigung"
                flash(
                    f"{what} erfasst: Der Vertrag endet zum {date_de(found.ends_on)} "
                    f"(Nachtrag Nr. {version.endorsement_no}).{refund} "
                    f"Die {what}sbestätigung geht per Post an den Kunden.",
                    "success",
                )
                return redirect(url_for("contracts.contract", public_id=found.public_id))
    return render_template("contracts/cancel.html", **page), 422


@bp.post("/vertraege/<public_id>/kuendigung-zuruecknehmen")
@roles_required(*BROKER_AREA, *BACKOFFICE_AREA)
def withdraw_cancellation(public_id: str) -> BaseResponse:
    """Rücknahme of a Kündigung before it takes effect (a Nachtrag; audited)."""
    s = db.session()
    found = get_visible_or_404(s, Contract, staff_user(), public_id=public_id)
    form = WithdrawForm(formdata=request.form)
    try:
        version = cancellation.withdraw_cancellation(
            s,
            staff_user(),
            found,
            expected_version=_int(form.version.data),
            today=clock.today(),
            catalog=current_settings().catalog,
            pdf_workers=current_settings().pdf_workers,
        )
    except versions.ChangeError as error:
        s.rollback()
        flash(error.message, "error")
    else:
        s.commit()
        flash(f"Kündigung zurückgenommen: Der Vertrag läuft weiter (Nachtrag Nr. {version.endorsement_no}).", "success")
    return redirect(url_for("contracts.contract", public_id=found.public_id))


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None
