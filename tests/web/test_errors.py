"""German error pages; a crash shows a page, never a stack trace, and rolls the session back."""

import pytest


def test_404_is_german(client):
    response = client.get("/gibt-es-nicht")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "<h1>Seite nicht gefunden</h1>" in page
    assert "Fehler 404" in page


def test_405_is_german(client):
    response = client.delete("/anmelden")
    assert response.status_code == 405
    assert "Aktion nicht möglich" in response.get_data(as_text=True)


@pytest.fixture
def crashing_app(app):
    def boom():
        raise RuntimeError("kaputt")

    app.add_url_rule("/test-crash", view_func=boom)
    return app


def test_unexpected_error_gives_a_german_500_page_without_details(crashing_app):
    response = crashing_app.test_client().get("/test-crash")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "<h1>Technischer Fehler</h1>" in page
    assert "kaputt" not in page
    assert "Traceback" not in page
    assert response.headers["Content-Security-Policy"]


def test_429_is_german(app):
    from tests.helpers import post_form

    app.config["PASSWORD_FORGOT_LIMIT_PER_ADDRESS"] = "1 per 15 minutes"
    client = app.test_client()
    post_form(client, "/portal/passwort-vergessen", {"kennung": "a@example.org"})
    response = post_form(client, "/portal/passwort-vergessen", {"kennung": "a@example.org"})
    assert response.status_code == 429
    assert "<h1>Zu viele Versuche</h1>" in response.get_data(as_text=True)


def test_healthz_answers_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok"


def test_absurd_page_numbers_land_on_the_last_page(broker_client, manager_client, backoffice_client):
    huge = "?seite=99999999999999999999"
    for client, url in (
        (broker_client, "/angebote/"),
        (manager_client, "/bestand/"),
        (manager_client, "/bestand/?status=Post&"),
        (backoffice_client, "/innendienst/nachrichten"),
    ):
        joined = url + (huge[1:] if url.endswith("&") else huge)
        response = client.get(joined)
        assert response.status_code == 200, joined


def test_the_footer_links_to_impressum_and_datenschutz(client, app):
    page = client.get("/anmelden").get_data(as_text=True)
    assert '<a href="/impressum">Impressum</a>' in page
    assert '<a href="/datenschutz">Datenschutz</a>' in page
    assert client.get("/impressum").status_code == 200
    assert "Sitzungs-Cookie" in client.get("/datenschutz").get_data(as_text=True)
    app.config["IMPRINT_URL"] = "https://makler.example/impressum"
    assert '<a href="https://makler.example/impressum">Impressum</a>' in client.get("/anmelden").get_data(as_text=True)
