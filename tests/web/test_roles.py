"""Each role's pages: its own start page, refused (403) on another role's, navigation per role."""

import pytest

from core.users import Role

PAGES = {
    "/vermittler/": {Role.BROKER, Role.MANAGER},
    "/agentur/": {Role.MANAGER},
    "/innendienst/": {Role.BACKOFFICE},
    # the dashboard (issue #17): the agency's figures for its manager, all agencies' for the back office
    "/agentur/kennzahlen": {Role.MANAGER},
    "/agentur/kennzahlen/trichter.csv": {Role.MANAGER},
    "/agentur/kennzahlen/tabelle.csv": {Role.MANAGER},
    "/innendienst/kennzahlen": {Role.BACKOFFICE},
    "/innendienst/kennzahlen/trichter.csv": {Role.BACKOFFICE},
    "/innendienst/kennzahlen/tabelle.csv": {Role.BACKOFFICE},
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("url", sorted(PAGES))
def test_role_pages_are_refused_to_other_roles(app, make_user, agency, role, url):
    from tests.helpers import login

    user = make_user(role, None if role is Role.BACKOFFICE else agency)
    client = app.test_client()
    login(client, user.email)
    response = client.get(url)
    if role in PAGES[url]:
        assert response.status_code == 200
    else:
        assert response.status_code == 403
        assert "<h1>Zugriff verweigert</h1>" in response.get_data(as_text=True)


def test_root_redirects_to_the_role_start_page(manager_client):
    assert manager_client.get("/").location == "/agentur/"


def test_navigation_shows_the_role_start_page_as_current(manager_client, backoffice_client):
    manager_page = manager_client.get("/agentur/").get_data(as_text=True)
    assert '<a href="/agentur/" aria-current="page">Startseite</a>' in manager_page
    assert 'href="/innendienst/"' not in manager_page
    backoffice_page = backoffice_client.get("/innendienst/").get_data(as_text=True)
    assert '<a href="/innendienst/" aria-current="page">Startseite</a>' in backoffice_page
    assert 'href="/agentur/"' not in backoffice_page
    # a page within a section marks its item (not the start page, whose URL is a shorter prefix)
    figures = manager_client.get("/agentur/kennzahlen").get_data(as_text=True)
    assert '<a href="/agentur/kennzahlen" aria-current="page">Kennzahlen</a>' in figures
    assert '<a href="/agentur/">Startseite</a>' in figures


def test_manager_sees_his_team_but_not_another_agency(manager_client, broker, make_agency, make_user):
    other = make_user(Role.BROKER, make_agency("Süd"))
    page = manager_client.get("/agentur/").get_data(as_text=True)
    assert broker.email in page
    assert other.email not in page


def test_activity_is_scoped_broker_own_manager_agency(app, broker, manager, make_agency, make_user):
    from tests.helpers import login

    colleague = make_user(Role.BROKER, broker.agency)
    stranger = make_user(Role.BROKER, make_agency("Süd"))
    for user in (colleague, stranger):
        login(app.test_client(), user.email)
    broker_client, manager_client = app.test_client(), app.test_client()
    login(broker_client, broker.email)
    login(manager_client, manager.email)
    broker_page = broker_client.get("/vermittler/").get_data(as_text=True)
    manager_page = manager_client.get("/agentur/").get_data(as_text=True)
    assert colleague.full_name not in broker_page
    assert broker.full_name in broker_page
    assert colleague.full_name in manager_page
    assert stranger.full_name not in manager_page


def test_backoffice_sees_activity_of_all_agencies(app, backoffice, make_agency, make_user):
    from tests.helpers import login

    stranger = make_user(Role.BROKER, make_agency("Süd"))
    login(app.test_client(), stranger.email)
    client = app.test_client()
    login(client, backoffice.email)
    assert stranger.full_name in client.get("/innendienst/").get_data(as_text=True)
