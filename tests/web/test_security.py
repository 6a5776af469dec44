"""CSRF on every POST (htmx included), cookie flags and security headers."""

import re

from tests.helpers import PASSWORD, csrf_token


def test_post_without_csrf_token_is_refused_in_german(client, broker):
    response = client.post("/anmelden", data={"email": broker.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "Das Formular ist abgelaufen" in response.get_data(as_text=True)


def test_post_with_a_foreign_csrf_token_is_refused(app, broker):
    token = csrf_token(app.test_client(), "/anmelden")  # from another browser session
    response = app.test_client().post(
        "/anmelden", data={"csrf_token": token, "email": broker.email, "password": PASSWORD}
    )
    assert response.status_code == 400


def test_htmx_requests_carry_the_token_in_a_header(client, broker):
    page = client.get("/anmelden").get_data(as_text=True)
    header_token = re.search(r"hx-headers='\{&#34;X-CSRFToken&#34;: &#34;([^&]+)&#34;\}'", page)
    header_token = header_token or re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', page)
    assert header_token, "the body must hand htmx the CSRF header"
    response = client.post(
        "/anmelden",
        data={"email": broker.email, "password": PASSWORD},
        headers={"X-CSRFToken": header_token.group(1), "HX-Request": "true"},
    )
    assert response.status_code == 302
    without = client.post("/abmelden", headers={"HX-Request": "true"})
    assert without.status_code == 400


def test_security_headers_on_every_page(client):
    response = client.get("/anmelden")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert client.get("/gibt-es-nicht").headers["X-Content-Type-Options"] == "nosniff"


def test_pages_have_no_inline_script_or_style(broker_client):
    for url in ("/anmelden", "/vermittler/"):
        page = broker_client.get(url).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), url
        assert "<style" not in page
        assert " style=" not in page
        assert " onclick=" not in page


def test_htmx_is_served_from_our_own_static_folder(client):
    page = client.get("/anmelden").get_data(as_text=True)
    assert '<script src="/static/js/htmx-2.0.11.min.js" defer></script>' in page
    with client.get("/static/js/htmx-2.0.11.min.js") as script:
        assert script.status_code == 200
        assert b'version:"2.0.11"' in script.data


def test_session_cookie_is_httponly_and_samesite(app, broker):
    from tests.helpers import login

    client = app.test_client()
    response = login(client, broker.email)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("vr_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_logged_in_pages_are_not_cached(broker_client):
    assert broker_client.get("/vermittler/").headers["Cache-Control"] == "private, no-store"


def test_secure_cookie_outside_dev(tmp_path):
    from core.app import create_app

    app = create_app(
        environ={
            "SECRET_KEY": "k" * 40,
            "SECRETS_KEYS": "dGVzdC1rZXktb2YtdGhpcy1zdWl0ZS0zMi1ieXRlcyE=",
            "APP_BASE_URL": "https://portal.example",
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        }
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_behind_a_trusted_proxy_the_client_address_and_scheme_are_the_forwarded_ones(tmp_path):
    """TRUSTED_PROXIES=1: per-address login throttling counts the real client, HSTS follows https."""
    from core import migrate
    from core.app import create_app
    from tests.conftest import TEST_SECRET

    def app_with(proxies: str):
        app = create_app(
            environ={
                "APP_ENV": "testing",
                "SECRET_KEY": TEST_SECRET,
                "DATABASE_URL": f"sqlite:///{tmp_path}/proxy-{proxies}.db",
                "TRUSTED_PROXIES": proxies,
                "LOGIN_FREE_ATTEMPTS_PER_ADDRESS": "2",
            }
        )
        migrate.upgrade(app.extensions["database"].engine)
        return app

    def attempts(app, forwarded_for: str) -> int:
        from tests.helpers import post_form

        client = app.test_client()
        # over https Flask-WTF also checks that the form came from our own pages
        headers = {
            "X-Forwarded-For": forwarded_for,
            "X-Forwarded-Proto": "https",
            "Referer": "https://localhost/anmelden",
        }
        return post_form(client, "/anmelden", {"email": "x@example.org", "password": "x"}, headers=headers).status_code

    behind = app_with("1")
    # two clients behind the proxy: each has its own allowance
    assert [attempts(behind, "203.0.113.1") for _ in range(3)] == [200, 200, 429]
    assert attempts(behind, "203.0.113.2") == 200
    assert (
        "Strict-Transport-Security"
        in behind.test_client().get("/anmelden", headers={"X-Forwarded-Proto": "https"}).headers
    )
    # without the setting the headers are ignored: everybody is the proxy's one address
    direct = app_with("0")
    assert [attempts(direct, f"203.0.113.{n}") for n in range(3)] == [200, 200, 429]
    assert (
        "Strict-Transport-Security"
        not in direct.test_client().get("/anmelden", headers={"X-Forwarded-Proto": "https"}).headers
    )
    for app in (behind, direct):
        app.extensions["database"].engine.dispose()


def test_pages_and_their_htmx_fragments_vary_on_hx_request(broker_client):
    page = broker_client.get("/fahrzeuge/suche?q=golf")
    fragment = broker_client.get("/fahrzeuge/suche?q=golf", headers={"HX-Request": "true"})
    assert page.get_data(as_text=True).lstrip().startswith("<!doctype html>")
    assert not fragment.get_data(as_text=True).lstrip().startswith("<!doctype html>")
    for response in (page, fragment):
        assert "HX-Request" in response.vary


def test_download_names_with_umlauts_are_sent_the_rfc_6266_way(app):
    from core.downloads import download

    with app.test_request_context():
        response = download(b"%PDF-1.4", "application/pdf", "Beitragsänderung-VR-2026-1.pdf")
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Beitrags%C3%A4nderung-VR-2026-1.pdf" in disposition
