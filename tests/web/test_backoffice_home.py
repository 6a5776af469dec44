"""The back office's start page (issue #26 item 20): its queues with count and oldest age."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.usefixtures("demo_reference")


def test_the_back_office_start_page_shows_its_queues_with_count_and_oldest_age(
    app, broker_client, backoffice_client, session
):
    """Issue #26 item 20: Risikoprüfung, Postausgang, failed messages, open claims, SF-Bestätigungen —
    each with its count and the age of its oldest item, linked to its list."""
    from datetime import timedelta

    from core import clock
    from messaging.models import Kind, OutboxMessage, State
    from tests.helpers import KFZ_ANSWERS
    from tests.web.test_applications import POST, apply, quote

    apply(broker_client, quote(broker_client, {**KFZ_ANSWERS, "sf_kh": "20"}), POST)  # policed: its letter
    letter = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == Kind.LETTER))
    letter.created_at = clock.now() - timedelta(days=3)
    session.add(
        OutboxMessage(
            idempotency_key="t:failed",
            kind=Kind.EMAIL,
            state=State.FAILED,
            recipient="x@example.org",
            template="test",
            created_at=clock.now() - timedelta(days=1),
        )
    )
    session.commit()
    page = backoffice_client.get("/innendienst/").get_data(as_text=True)
    panel = page[page.index('id="queues-title"') :]
    panel = panel[: panel.index("</section>")]
    items = re.findall(
        r'<a href="([^"]+)"><span class="queue__count">(\d+)</span> <span class="queue__label">([^<]+)</span></a>\s*'
        r'<span class="queue__age">([^<]+)</span>',
        panel,
    )
    found = {label: (href, int(n), age) for href, n, label, age in items}
    assert found["Postausgang"] == ("/innendienst/postausgang", 1, "ältester seit 3 Tagen")
    assert found["Fehlgeschlagene Nachrichten"] == ("/innendienst/nachrichten", 1, "ältester seit 1 Tag")
    assert found["Risikoprüfung"][1:] == (0, "nichts offen")
    assert set(found) == {
        "Risikoprüfung",
        "Postausgang",
        "Fehlgeschlagene Nachrichten",
        "Offene Schadenmeldungen",
        "Kontakt: offene Nachrichten",
        "SF-Bestätigungen offen",
    }
    assert found["Kontakt: offene Nachrichten"] == ("/innendienst/kontakt", 0, "nichts offen")
