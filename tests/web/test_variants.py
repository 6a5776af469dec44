"""Offer variants side by side (issue #16, item 2): proposals, a comparison with the differences
marked, a variant the tariff cannot price (Rabattschutz below SF 4) says why in its column, one PDF
with the comparison, the chosen variant goes on to the Antrag as an offer of its own; Angebot
kopieren; another agency's offer: 404."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from calculator.models import Offer
from core.users import Role
from tests.helpers import KFZ_ANSWERS, RS_ANSWERS, csrf_token, login
from tests.web.test_applications import quote

pytestmark = pytest.mark.usefixtures("demo_reference")


def _cells(html: str, label: str) -> list[str]:
    row = re.search(rf'<th scope="row">{re.escape(label)}</th>(.*?)</tr>', html, re.S).group(1)
    return [
        re.sub(r"<[^>]+>", "", c).replace(" (abweichend)", "").strip()
        for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]


def test_the_proposals_side_by_side_with_differences_marked(broker_client):
    offer_id = quote(broker_client)
    html = broker_client.get(f"/angebote/{offer_id}/varianten").get_data(as_text=True)
    assert _cells(html, "Selbstbeteiligung Vollkasko") == ["500 €", "300 €", "1.000 €", "–"]
    assert _cells(html, "Versicherungsumfang")[3] == "Haftpflicht + Teilkasko"
    totals = _cells(html, "Gesamtbeitrag")
    assert len(set(totals)) == 4  # four different prices
    assert html.count('class="compare__diff"') >= 6
    assert '<span class="visually-hidden"> (abweichend)</span>' in html


def test_a_variant_the_tariff_cannot_price_says_why(broker_client):
    offer_id = quote(broker_client, {**KFZ_ANSWERS, "sf_kh": "2", "sf_vk": "2"})
    query = "v1_an=1&v1_kfz_deckung=kh_vk&v1_sb_tk=150&v1_sb_vk=500&v1_rabattschutz=y"
    html = broker_client.get(f"/angebote/{offer_id}/varianten?{query}").get_data(as_text=True)
    hint = _cells(html, "Hinweis")[1]
    assert "Rabattschutz" in hint
    assert "SF" in hint
    assert _cells(html, "Gesamtbeitrag")[1] == "–"
    assert "Variante 1 beantragen" not in html


def test_a_variant_without_a_valid_cover_says_why_instead_of_a_500(broker_client):
    """Found by the fuzz net (issue #25 item 8): an empty or unknown Versicherungsumfang in a variant's
    query was a ValueError (HTTP 500) on the page and its PDF."""
    offer_id = quote(broker_client)
    for value in ("", "kasko-gold"):
        query = f"v1_an=1&v1_kfz_deckung={value}&v1_sb_tk=150&v1_sb_vk=500"
        response = broker_client.get(f"/angebote/{offer_id}/varianten?{query}")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert _cells(html, "Versicherungsumfang")[1] == "–"
        assert _cells(html, "Gesamtbeitrag")[1] == "–"
        assert _cells(html, "Hinweis")[1]  # the column says why
        assert broker_client.get(f"/angebote/{offer_id}/varianten.pdf?{query}").status_code == 200


def test_one_pdf_with_the_comparison(broker_client):
    offer_id = quote(broker_client)
    response = broker_client.get(
        f"/angebote/{offer_id}/varianten.pdf?v1_an=1&v1_kfz_deckung=kh_tk&v1_sb_tk=300&v1_sb_vk=500"
    )
    assert response.headers["Content-Type"] == "application/pdf"
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(response.data)).pages)
    assert "Angebotsvergleich Kfz" in text
    assert "Variante 1" in text
    assert "Haftpflicht + Teilkasko" in text


def test_the_chosen_variant_goes_on_to_the_antrag(broker_client, session):
    offer_id = quote(broker_client)
    url = f"/angebote/{offer_id}/varianten"
    page = broker_client.get(url).get_data(as_text=True)
    assert "Variante 2 beantragen" in page
    data = {
        "csrf_token": csrf_token(broker_client, url),
        "variante": "2",
        "v2_an": "1",
        "v2_kfz_deckung": "kh_vk",
        "v2_sb_tk": "300",
        "v2_sb_vk": "1000",
    }
    response = broker_client.post(f"{url}/beantragen", data=data)
    assert response.status_code == 302
    new_id = re.search(r"/angebote/([\w-]+)/antrag", response.location).group(1)
    chosen = session.scalar(sa.select(Offer).where(Offer.public_id == new_id))
    assert chosen.form_data["sb_vk"] == ["1000"]
    assert chosen.form_data["sb_tk"] == ["300"]
    original = session.scalar(sa.select(Offer).where(Offer.public_id == offer_id))
    assert original.form_data["sb_vk"] == ["500"]  # the offer itself stays
    assert chosen.total != original.total


def test_legal_variants_and_copy(broker_client, session):
    offer_id = quote(broker_client, RS_ANSWERS, "rs")
    html = broker_client.get(f"/angebote/{offer_id}/varianten").get_data(as_text=True)
    assert _cells(html, "Bausteine")[2] == "Privat, Beruf, Verkehr, Wohnen/Miete"
    url = f"/angebote/{offer_id}"
    copied = broker_client.post(f"{url}/kopieren", data={"csrf_token": csrf_token(broker_client, url)})
    copy_id = re.search(r"/angebote/([\w-]+)/bearbeiten", copied.location).group(1)
    assert copy_id != offer_id
    copy = session.scalar(sa.select(Offer).where(Offer.public_id == copy_id))
    assert copy.form_data == session.scalar(sa.select(Offer).where(Offer.public_id == offer_id)).form_data
    assert copy.name is None  # a draft


def test_another_agency_cannot_compare_or_copy(app, broker_client, make_agency, make_user):
    offer_id = quote(broker_client)
    stranger = app.test_client()
    login(stranger, make_user(Role.BROKER, make_agency("Andere Agentur")).email)
    assert stranger.get(f"/angebote/{offer_id}/varianten").status_code == 404
    assert stranger.get(f"/angebote/{offer_id}/varianten.pdf").status_code == 404
    token = csrf_token(stranger, "/angebote/")
    assert stranger.post(f"/angebote/{offer_id}/kopieren", data={"csrf_token": token}).status_code == 404
    assert stranger.post(f"/angebote/{offer_id}/varianten/beantragen", data={"csrf_token": token}).status_code == 404
