"""Offers: save under a name, list per scope, reopen at the same price, offer PDF."""

import io
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from calculator.models import Offer
from core import clock
from core.users import Role
from tests.conftest import environ_for
from tests.helpers import KFZ_ANSWERS, RS_ANSWERS, csrf_token, login

TEXTS = Path("calculator/tariffs/data/texts")


pytestmark = pytest.mark.usefixtures("demo_reference")


def _quote(client, answers=KFZ_ANSWERS, product="kfz"):
    page = f"/rechner/{product}/"
    response = client.post(f"/rechner/{product}/berechnen", data={"csrf_token": csrf_token(client, page), **answers})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response.location.rsplit("/", 1)[1]


def _save(client, public_id, name):
    url = f"/angebote/{public_id}/speichern"
    return client.post(url, data={"csrf_token": csrf_token(client, f"/angebote/{public_id}"), "name": name})


def _total(page: str) -> str:
    return re.search(r"Gesamtbeitrag \w+<br>.*?<strong>([^<]+)</strong>", page, re.S).group(1)


def test_save_under_a_name_and_find_it_in_the_list(broker_client):
    public_id = _quote(broker_client)
    assert "Müller-Lüdenscheidt" not in broker_client.get("/angebote/").get_data(as_text=True)  # drafts hidden
    response = _save(broker_client, public_id, "  Müller   Golf  ")
    assert response.status_code == 302
    page = broker_client.get(response.location).get_data(as_text=True)
    assert "Angebot „Müller Golf“ gespeichert." in page
    listing = broker_client.get("/angebote/?q=müller").get_data(as_text=True)
    assert f'<a href="/angebote/{public_id}">Müller Golf</a>' in listing


def test_saving_without_a_name_is_refused_in_german(broker_client):
    public_id = _quote(broker_client)
    response = _save(broker_client, public_id, "   ")
    assert response.status_code == 422
    assert 'id="offer-name-error">Bitte geben Sie einen Namen für das Angebot ein.</p>' in response.get_data(
        as_text=True
    )


def test_offers_are_scoped_broker_own_manager_agency_others_404(
    app, broker_client, manager_client, broker, make_user, make_agency
):
    public_id = _quote(broker_client)
    _save(broker_client, public_id, "Angebot A")
    colleague = app.test_client()
    login(colleague, make_user(Role.BROKER, broker.agency).email)
    stranger = app.test_client()
    login(stranger, make_user(Role.MANAGER, make_agency("Süd")).email)

    assert "Angebot A" in manager_client.get("/angebote/").get_data(as_text=True)
    assert manager_client.get(f"/angebote/{public_id}").status_code == 200
    assert "Angebot A" not in colleague.get("/angebote/").get_data(as_text=True)
    for client in (colleague, stranger):
        assert client.get(f"/angebote/{public_id}").status_code == 404
        assert client.get(f"/angebote/{public_id}/pdf").status_code == 404
        assert client.get(f"/angebote/{public_id}/bearbeiten").status_code == 404
        assert _save(client, public_id, "gekapert").status_code in (404, 400)


def test_reopened_offer_keeps_its_tariff_version_and_price(
    app, broker_client, broker, session, tmp_path: Path, database_url, connection
):
    public_id = _quote(broker_client)
    _save(broker_client, public_id, "Vor der Tarifänderung")
    before = broker_client.get(f"/angebote/{public_id}").get_data(as_text=True)

    # a newer tariff version becomes valid today, 8 % dearer
    source = Path("calculator/tariffs/data/kfz-2026-01.toml").read_text()
    shutil.copytree(TEXTS, tmp_path / "texts", dirs_exist_ok=True)  # the texts it names
    today = clock.now().date()
    newer = (
        source.replace('version = "KFZ-2026-01"', 'version = "KFZ-NEU"')
        .replace("valid_from = 2026-01-01", f"valid_from = {today - timedelta(days=1)}")
        .replace('kh = "520.00"', 'kh = "561.60"')
    )
    (tmp_path / "kfz-neu.toml").write_text(newer)
    from core.app import create_app

    new_app = create_app({"TARIFF_EXTRA_DIRS": [str(tmp_path)]}, environ=environ_for(database_url))
    new_app.extensions["database"].bind_to(connection)
    client = new_app.test_client()
    login(client, broker.email)

    reopened = client.get(f"/angebote/{public_id}").get_data(as_text=True)
    assert "Tarifstand KFZ-2026-01" in reopened
    assert _total(reopened) == _total(before)
    fresh = client.get(f"/angebote/{_quote(client)}").get_data(as_text=True)
    assert "Tarifstand KFZ-NEU" in fresh
    assert _total(fresh) != _total(before)
    new_app.extensions["database"].engine.dispose()


def test_changing_a_saved_offer_makes_a_new_draft(broker_client, session):
    public_id = _quote(broker_client)
    _save(broker_client, public_id, "Original")
    edit = broker_client.get(f"/angebote/{public_id}/bearbeiten").get_data(as_text=True)
    assert 'value="Müller-Lüdenscheidt"' in edit
    assert f'name="_offer" value="{public_id}"' in edit
    changed = {**KFZ_ANSWERS, "sf_kh": "20", "_offer": public_id}
    new_id = _quote(broker_client, changed)
    assert new_id != public_id
    original = session.scalar(sa.select(Offer).where(Offer.public_id == public_id))
    session.refresh(original)
    assert original.name == "Original"
    assert original.risk["sf_kh"] == "12"


def test_changing_a_draft_updates_it(broker_client):
    public_id = _quote(broker_client)
    assert _quote(broker_client, {**KFZ_ANSWERS, "sf_kh": "20", "_offer": public_id}) == public_id


def _pdf_text(response) -> str:
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def test_offer_pdf_has_applicant_inputs_breakdown_total_and_tariff(broker_client):
    """Issue #26 item 9: the customer's offer — titled by product and customer (not the broker's save
    name), the price and Zahlweise first, the broker's contact, the validity (tariff data: 30 days),
    the breakdown after."""
    public_id = _quote(broker_client)
    _save(broker_client, public_id, "Golf für Jürgen")
    page = broker_client.get(f"/angebote/{public_id}").get_data(as_text=True)
    response = broker_client.get(f"/angebote/{public_id}/pdf")
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    text = _pdf_text(response)
    today = clock.today()
    assert "Golf für Jürgen" not in text  # the broker's save name is his, not the customer's
    assert text.index("Ihr Angebot für Ihre Kfz-Versicherung für Herrn Jürgen Müller-Lüdenscheidt") == 0
    assert (
        text.index("Ihr Beitrag monatlich") < text.index("Dieses Angebot gilt bis") < text.index("Ihr Ansprechpartner")
    )
    assert f"Dieses Angebot gilt bis {(today + timedelta(days=30)).strftime('%d.%m.%Y')}." in text
    assert re.search(r"Ihr Ansprechpartner: \S.+ E-Mail \S+@\S+", text)
    assert text.index("Ihr Ansprechpartner") < text.index("So setzt sich Ihr Beitrag zusammen")
    for expected in (
        "Jürgen",
        "Müller-Lüdenscheidt",
        "Hauptstraße 1",
        "VOLKSWAGEN-VW GOLF",
        "SF-Klasse SF 12 (35 %)",
        "Versicherungsteuer 19 %",
        "Gesamtbeitrag monatlich (inkl. 19% Vers.-Steuer)",
        "Tarifstand KFZ-2026-01",
        f"erstellt am {today.strftime('%d.%m.%Y')}",  # Berlin's day, as printed
    ):
        assert expected in text, expected
    assert _total(page).replace("\xa0", " ") in text.replace("\xa0", " ")  # the same total, with €


def test_rs_offer_pdf_shows_the_membership_line(broker_client):
    public_id = _quote(broker_client, RS_ANSWERS, "rs")
    text = _pdf_text(broker_client.get(f"/angebote/{public_id}/pdf"))
    assert "Mitgliedsbeitrag Kraftfahrer-Schutz e.V. (ohne Versicherungsteuer) 24,00 €" in text
    assert "Änne" in text
    assert "Schröder" in text


def test_save_under_another_name_keeps_the_original_and_saves_a_copy(broker_client, session):
    public_id = _quote(broker_client)
    _save(broker_client, public_id, "Müller Golf")
    response = _save(broker_client, public_id, "Müller Golf – Variante")
    copy_id = response.location.rsplit("/", 1)[1]
    assert copy_id != public_id
    page = broker_client.get(response.location).get_data(as_text=True)
    assert "Kopie „Müller Golf – Variante“ gespeichert" in page
    original = session.scalar(sa.select(Offer).where(Offer.public_id == public_id))
    copy = session.scalar(sa.select(Offer).where(Offer.public_id == copy_id))
    assert original.name == "Müller Golf"
    assert copy.name == "Müller Golf – Variante"
    assert (copy.total, copy.tariff_version, copy.risk) == (original.total, original.tariff_version, original.risk)
    listing = broker_client.get("/angebote/").get_data(as_text=True)
    assert "Müller Golf</a>" in listing
    assert "Müller Golf – Variante</a>" in listing
    # the same name again changes nothing and makes no further copy
    _save(broker_client, public_id, "Müller Golf")
    assert session.scalar(sa.select(sa.func.count()).select_from(Offer)) == 2


def test_an_emptied_name_field_stays_empty_with_its_message(broker_client):
    public_id = _quote(broker_client)
    _save(broker_client, public_id, "Müller Golf")
    page = _save(broker_client, public_id, "").get_data(as_text=True)
    assert re.search(r'id="offer-name"[^>]*value=""', page)
    assert "Bitte geben Sie einen Namen für das Angebot ein." in page
