"""Applications, contracts, deliveries, eVB and webhooks through the API, and who may see what."""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
import time_machine
from standardwebhooks.webhooks import Webhook

from api.models import ApiToken
from core import clock
from core.users import Role
from messaging import worker
from messaging.models import Kind, OutboxMessage, State
from tests.api.test_api_quotes import _json_answers
from tests.helpers import ANTRAG_DECLARATIONS, KFZ_ANSWERS, RS_ANSWERS, post_form, with_settings

pytestmark = pytest.mark.usefixtures("demo_reference")


def _antrag(product: str, **changes) -> dict:
    """The Antrag's answers as an integrator sends them (the pages' ANTRAG_DECLARATIONS)."""
    start = clock.today() + timedelta(days=14)
    answers = {
        "vertragsbeginn": start.isoformat(),
        "kontoinhaber": "Änne Schröder",
        "iban": "DE89370400440532013000",
        "sepa_mandat": True,
        "zustellung": "post",
        "vertragsinformationen_am": clock.today().isoformat(),
        "belehrung_19": True,
        "wuensche": ANTRAG_DECLARATIONS["wuensche"],
        "rat": ANTRAG_DECLARATIONS["rat"],
        "begruendung": ANTRAG_DECLARATIONS["begruendung"],
        "beratung_uebergeben": True,
    }
    if product == "kfz":
        answers.update(anlass="neuzulassung", fin=ANTRAG_DECLARATIONS["fin"])
    answers.update(changes)
    return answers


def _offer(api, product: str = "rs") -> str:
    answers = _json_answers(RS_ANSWERS if product == "rs" else KFZ_ANSWERS)
    response = api.post("/offers", {"product": product, "answers": answers})
    assert response.status_code == 201, response.get_data(as_text=True)
    return str(response.json["id"])


def _apply(api, offer_id: str, key: str, product: str = "rs", **changes):
    return api.post(
        "/applications",
        {"offer_id": offer_id, "answers": _antrag(product, **changes)},
        headers={"Idempotency-Key": key},
    )


def test_an_application_polices_and_a_retry_with_the_same_key_gets_the_same_answer(broker_api):
    offer = _offer(broker_api)
    first = _apply(broker_api, offer, "antrag-1")
    assert first.status_code == 201, first.get_data(as_text=True)
    assert first.json["status"] == "angenommen"
    number = first.json["contract_number"]
    assert number
    again = _apply(broker_api, offer, "antrag-1")
    assert again.status_code == 201
    assert again.json == first.json
    status = broker_api.get(f"/applications/{first.json['id']}")
    assert status.json["contract_number"] == number
    contract = broker_api.get(f"/contracts/{number}")
    assert contract.json["customer"]["name"] == "Änne Schröder"
    assert contract.json["delivery"] == "post"


def test_the_same_key_with_another_body_is_a_conflict(broker_api):
    offer = _offer(broker_api)
    assert _apply(broker_api, offer, "k").status_code == 201
    other = _apply(broker_api, offer, "k", kontoinhaber="Jemand Anderes")
    assert other.status_code == 409
    assert other.mimetype == "application/problem+json"


def test_an_application_without_the_legal_confirmations_names_them(broker_api):
    """§ 19 Abs. 5 VVG notice, the Beratungsdokumentation (§§ 61, 62 VVG), the SEPA mandate: the
    Antrag's own rules, so the API says what the page says, at the same answers."""
    offer = _offer(broker_api)
    refused = _apply(broker_api, offer, "k2", belehrung_19=False, beratung_uebergeben=False, sepa_mandat=False)
    assert refused.status_code == 422
    pointers = {e["pointer"]: e["detail"] for e in refused.json["errors"]}
    assert "§ 19 Abs. 5 VVG" in pointers["/answers/belehrung_19"]
    assert "§ 62 VVG" in pointers["/answers/beratung_uebergeben"]
    assert "/answers/sepa_mandat" in pointers
    # refused requests do not use up their key: corrected, the same key goes through
    assert _apply(broker_api, offer, "k2").status_code == 201


def test_an_application_needs_a_key(broker_api):
    offer = _offer(broker_api)
    missing = broker_api.post("/applications", {"offer_id": offer, "answers": _antrag("rs")})
    assert missing.status_code == 400
    assert missing.json["type"].endswith("idempotency-key")


def test_deliveries_list_until_acknowledged_and_stream_the_pdf(broker_api):
    offer = _offer(broker_api)
    number = _apply(broker_api, offer, "d1").json["contract_number"]
    listed = broker_api.get("/deliveries?limit=3")
    assert listed.status_code == 200
    first_page = listed.json["items"]
    assert len(first_page) == 3
    assert {d["contract_number"] for d in first_page} == {number}
    rest = broker_api.get(f"/deliveries?since={listed.json['cursor']}&limit=100").json
    ids = [d["id"] for d in first_page + rest["items"]]
    assert len(ids) == len(set(ids)) >= 4
    assert rest["cursor"] is None
    pdf = broker_api.get(f"/documents/{ids[0]}")
    assert pdf.status_code == 200
    assert pdf.data.startswith(b"%PDF")
    assert "no-store" in pdf.headers["Cache-Control"]
    assert broker_api.post(f"/deliveries/{ids[0]}/ack").status_code == 204
    assert broker_api.post(f"/deliveries/{ids[0]}/ack").status_code == 204  # idempotent
    after = [d["id"] for d in broker_api.get("/deliveries?limit=100").json["items"]]
    assert after == ids[1:]


def test_a_tampered_cursor_is_a_problem_not_a_500(broker_api, make_api, manager):
    offer = _offer(broker_api)
    _apply(broker_api, offer, "c1")
    cursor = broker_api.get("/deliveries?limit=1").json["cursor"]
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    bad = broker_api.get(f"/deliveries?since={tampered}")
    assert bad.status_code == 422
    assert bad.json["errors"][0]["pointer"] == "?since"
    other = make_api(manager)  # another client's cursor is not ours
    assert other.get(f"/deliveries?since={cursor}").status_code == 422


def test_tokens_expire_are_revoked_with_their_client_and_carry_only_their_scopes(app, session, make_api, manager):
    api = make_api(manager, scopes=["quotes"], scope="quotes")
    assert api.get("/ping").status_code == 200
    assert api.get("/deliveries").status_code == 403
    assert "insufficient_scope" in api.get("/deliveries").headers["WWW-Authenticate"]
    with time_machine.travel(clock.now() + timedelta(seconds=app.config["API_TOKEN_SECONDS"] + 1)):
        expired = api.get("/ping")
    assert expired.status_code == 401
    assert expired.json["detail"].startswith("Das Zugriffstoken ist abgelaufen")
    from api.clients import revoke_client
    from api.models import ApiClient

    client = session.scalar(sa.select(ApiClient).order_by(ApiClient.id.desc()))
    revoke_client(session, manager, client)
    session.commit()
    assert api.get("/ping").status_code == 401
    assert session.scalar(sa.select(ApiToken.revoked_at).where(ApiToken.client_id == client.id)) is not None
    assert api.client.get("/api/v1/ping").status_code == 401  # no token at all


def test_a_wrong_secret_gets_no_token(app, session, manager):
    from api.clients import create_client

    row, _secret = create_client(session, manager, "X", ["quotes"])
    session.commit()
    response = app.test_client().post(
        "/api/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": row.client_id, "client_secret": "no"},
    )
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"


def test_idor_matrix_another_agency_and_another_broker_see_nothing(
    app, session, make_agency, make_user, make_api, broker, manager
):
    """The pages' scope rule on every object operation (core.authz): a broker's client sees his
    objects, the agency's client the agency's, another agency's client nothing — 404, as the pages."""
    mine = make_api(manager, broker)
    offer = _offer(mine)
    application = _apply(mine, offer, "idor").json
    number = application["contract_number"]
    document = mine.get("/deliveries?limit=1").json["items"][0]["id"]
    other_agency = make_agency("Agentur Süd")
    stranger = make_api(make_user(Role.MANAGER, other_agency))
    colleague = make_api(manager, make_user(Role.BROKER, broker.agency))
    agency = make_api(manager)
    reads = [
        f"/offers/{offer}",
        f"/offers/{offer}/pdf",
        f"/applications/{application['id']}",
        f"/contracts/{number}",
        f"/documents/{document}",
    ]
    for path in reads:
        assert mine.get(path).status_code == 200, path
        assert agency.get(path).status_code == 200, path
        assert stranger.get(path).status_code == 404, path
        assert colleague.get(path).status_code == 404, path
    for who in (stranger, colleague):
        assert who.post(f"/deliveries/{document}/ack").status_code == 404
        assert who.post(f"/contracts/{number}/evb").status_code == 404
        assert _apply(who, offer, "steal").status_code == 404
        assert who.get("/deliveries").json["items"] == []
        assert who.get("/contracts").json["items"] == []
    assert [c["number"] for c in agency.get("/contracts").json["items"]] == [number]


class Receiver:
    """A webhook receiver on this machine that fails 30 % of the time (HTTP 500 or no answer in
    time), remembering every event it accepted with a valid signature."""

    def __init__(self, secret_holder: dict, fault_rate: float, seed: int) -> None:
        self.accepted: dict[str, int] = {}
        self.bad_signatures = 0
        rng = random.Random(seed)
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                with lock:
                    fault = rng.random()
                if fault < fault_rate / 2:
                    self.send_response(500)
                    self.end_headers()
                    return
                if fault < fault_rate:
                    time.sleep(0.6)  # beyond the sender's timeout
                try:
                    Webhook(secret_holder["secret"]).verify(body, dict(self.headers))
                except Exception:
                    receiver.bad_signatures += 1
                    self.send_response(400)
                    self.end_headers()
                    return
                event = json.loads(body)["id"]
                with lock:
                    receiver.accepted[event] = receiver.accepted.get(event, 0) + 1
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_webhooks_are_signed_and_none_is_lost_when_the_receiver_fails_a_third_of_the_time(app, session, broker_api):
    app.config["API_WEBHOOK_TIMEOUT_SECONDS"] = 0.3
    with_settings(app, "messaging_settings", backoff_seconds=0, backoff_max_seconds=0)
    holder: dict = {}
    receiver = Receiver(holder, fault_rate=0.3, seed=7)
    try:
        created = broker_api.post(
            "/webhooks", {"url": receiver.url, "events": ["contract.policed", "evb.issued", "application.decided"]}
        )
        assert created.status_code == 201, created.get_data(as_text=True)
        holder["secret"] = created.json["secret"]
        assert holder["secret"].startswith("whsec_")
        for n in range(6):
            _apply(broker_api, _offer(broker_api, "kfz"), f"w{n}", product="kfz")
        events = set(session.scalars(sa.select(OutboxMessage.provider_id).where(OutboxMessage.kind == Kind.WEBHOOK)))
        assert len(events) == 12  # six contracts policed, six eVB issued
        for _ in range(60):
            worker.run(app, once=True)
            if set(receiver.accepted) == events:
                break
            time.sleep(0.05)
        assert set(receiver.accepted) == events  # every event arrived (at least once)
        assert receiver.bad_signatures == 0
        states = set(session.scalars(sa.select(OutboxMessage.state).where(OutboxMessage.kind == Kind.WEBHOOK)))
        assert states == {State.SENT}
        retried = session.scalar(
            sa.select(sa.func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == Kind.WEBHOOK, OutboxMessage.attempts > 1)
        )
        assert retried > 0  # the faults happened and were retried
    finally:
        receiver.stop()


def test_webhook_urls_must_be_public_https_outside_development(app, broker_api):
    app.config["API_WEBHOOK_ALLOW_INSECURE"] = False
    for url in ("http://mvp.example/hooks", "https://127.0.0.1/hooks", "https://localhost/x", "https://10.0.0.1/h"):
        refused = broker_api.post("/webhooks", {"url": url, "events": ["document.added"]})
        assert refused.status_code == 422, url
        assert refused.json["errors"][0]["pointer"] == "/url"


def test_customers_and_places_are_readable_in_scope(broker_api, make_api, make_agency, make_user):
    number = _apply(broker_api, _offer(broker_api), "cu").json["contract_number"]
    contract = broker_api.get(f"/contracts/{number}").json
    customer = broker_api.get(f"/customers/{contract['customer_id']}")
    assert customer.status_code == 200
    assert customer.json["last_name"] == "Schröder"
    assert [c["number"] for c in customer.json["contracts"]] == [number]
    assert customer.json["contracts"][0]["portal_state"] == "post"
    stranger = make_api(make_user(Role.MANAGER, make_agency("Agentur West")))
    assert stranger.get(f"/customers/{contract['customer_id']}").status_code == 404
    places = broker_api.get("/places/80331").json["items"]
    assert places
    assert places[0]["place"] == "München"


def test_the_worker_drops_expired_tokens_and_old_idempotency_keys(app, session, broker_api):
    from api.housekeeping import purge
    from api.models import IdempotencyKey

    _apply(broker_api, _offer(broker_api), "old")
    assert session.scalar(sa.select(sa.func.count()).select_from(IdempotencyKey)) == 1
    with time_machine.travel(clock.now() + timedelta(days=2)):
        assert purge(session, app.config["API_IDEMPOTENCY_HOURS"]) == 2  # the key and the token
    assert session.scalar(sa.select(sa.func.count()).select_from(IdempotencyKey)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0


def test_a_client_over_its_rate_limit_gets_429_with_retry_after(app, broker_api, make_api, manager):
    app.config["API_RATE_LIMIT"] = "3 per minute"
    assert [broker_api.get("/ping").status_code for _ in range(3)] == [200, 200, 200]
    over = broker_api.get("/ping")
    assert over.status_code == 429
    assert over.mimetype == "application/problem+json"
    assert int(over.headers["Retry-After"]) >= 1
    assert make_api(manager).get("/ping").status_code == 200  # another client has its own count


def test_an_oversize_body_is_413_and_not_json_is_415(app, broker_api):
    app.config["API_MAX_BODY_BYTES"] = 1000
    big = broker_api.post("/quotes/rs", {"answers": {"name": "x" * 2000}})
    assert big.status_code == 413
    assert big.mimetype == "application/problem+json"
    form = broker_api.client.post(
        "/api/v1/quotes/rs", data="answers=1", headers={**broker_api._headers(None), "Content-Type": "text/plain"}
    )
    assert form.status_code == 415
    broken = broker_api.client.post(
        "/api/v1/quotes/rs", data="{", headers={**broker_api._headers(None), "Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    assert broken.json["title"] == "Ungültiges JSON"


def test_a_kfz_contract_has_its_evb_and_asking_again_returns_it(broker_api):
    number = _apply(broker_api, _offer(broker_api, "kfz"), "evb", product="kfz").json["contract_number"]
    contract = broker_api.get(f"/contracts/{number}").json
    assert contract["evb"]["code"]  # a Neuzulassung gets its eVB at policing
    again = broker_api.post(f"/contracts/{number}/evb")
    assert again.status_code == 200
    assert again.json["code"] == contract["evb"]["code"]
    rs = _apply(broker_api, _offer(broker_api, "rs"), "rs", product="rs").json["contract_number"]
    refused = broker_api.post(f"/contracts/{rs}/evb")
    assert refused.status_code == 422
    assert refused.json["detail"] == "Eine eVB-Nummer gibt es nur für Kfz-Verträge."


def test_the_manager_sends_a_failed_webhook_again_from_the_clients_log(app, session, broker_api, manager_client):
    from api.models import ApiClient

    app.config["API_WEBHOOK_TIMEOUT_SECONDS"] = 0.3
    with_settings(app, "messaging_settings", webhook_max_attempts=1)
    holder: dict = {}
    receiver = Receiver(holder, fault_rate=1.0, seed=1)  # answers 500 or too late: every attempt fails
    try:
        created = broker_api.post("/webhooks", {"url": receiver.url, "events": ["contract.policed"]}).json
        holder["secret"] = created["secret"]
        _apply(broker_api, _offer(broker_api), "hook")
        worker.run(app, once=True)
        message = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == Kind.WEBHOOK))
        session.refresh(message)
        assert message.state is State.FAILED
        client = session.scalar(sa.select(ApiClient).order_by(ApiClient.id.desc()))
        log = f"/agentur/api-zugaenge/{client.public_id}/webhooks"
        page = manager_client.get(log).get_data(as_text=True)
        assert "fehlgeschlagen" in page
        assert "Erneut senden" in page
        receiver_ok = Receiver(holder, fault_rate=0.0, seed=2)
        message.recipient = receiver_ok.url  # the integrator fixed his endpoint (same event, same id)
        session.commit()
        resent = post_form(manager_client, f"{log}/{message.public_id}/erneut", {}, page=log)
        assert resent.status_code == 302
        worker.run(app, once=True)
        session.refresh(message)
        assert message.state is State.SENT
        assert set(receiver_ok.accepted) == {message.provider_id}
        receiver_ok.stop()
    finally:
        receiver.stop()


def test_what_a_client_does_is_on_the_audit_trail_as_done_through_it(session, broker_api, broker):
    from core.audit import AuditEntry

    offer = _offer(broker_api)
    labels = set(session.scalars(sa.select(AuditEntry.actor_label).where(AuditEntry.object_id == offer)))
    assert labels == {f"{broker.email} (API-Zugang Vergleichsrechner)"}


def test_every_stored_document_is_a_document_added_event_also_those_the_customer_is_not_told_of(
    app, session, broker_api
):
    """A claim's confirmation is not announced to the customer (his e-mail says it), but the broker's
    system wants it: document.added for every document store_and_deliver keeps."""
    from contracts.documents import store_and_deliver
    from contracts.models import Contract, DocumentKind

    created = broker_api.post("/webhooks", {"url": "http://127.0.0.1:9/h", "events": ["document.added"]})
    assert created.status_code == 201
    number = _apply(broker_api, _offer(broker_api), "doc").json["contract_number"]
    contract = session.scalar(sa.select(Contract).where(Contract.number == number))
    with app.test_request_context():
        [document] = store_and_deliver(
            session, contract, [(DocumentKind.NOTICE, "Mitteilung", b"%PDF-1.4 test")], announce=False
        )
    events = list(
        session.scalars(
            sa.select(OutboxMessage.body_text).where(
                OutboxMessage.kind == Kind.WEBHOOK, OutboxMessage.subject == "document.added"
            )
        )
    )
    assert len(events) == 1
    assert json.loads(events[0])["data"]["id"] == document.public_id


def test_a_wrong_rate_limit_is_refused_at_start_up(tmp_path):
    from core.app import create_app
    from core.config import ConfigError

    environ = {"APP_ENV": "testing", "SECRET_KEY": "k" * 40, "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    with pytest.raises(ConfigError, match="API_RATE_LIMIT"):
        create_app(environ={**environ, "API_RATE_LIMIT": "viele"})
