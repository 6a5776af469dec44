"""Message stencils (messaging.outbox.Stencils): the bulk switch renders its access-link e-mail and
code letter once per broker and fills in each recipient's values. Property: a filled stencil is
byte for byte the message rendered in full, for any values (HTML-special characters, umlauts, empty)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import ChoiceLoader, DictLoader

from core import clock
from messaging import outbox
from onboarding import invitations
from onboarding.models import CodeChannel
from onboarding.settings import current as current_settings
from tests.helpers import demo_stock

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40)
slot_values = st.fixed_dictionaries(
    {
        "name": text,
        "number": st.from_regex(r"[A-Z]{2}-[0-9]{5,8}", fullmatch=True),
        "token": st.from_regex(r"[A-Za-z0-9_-]{20,43}", fullmatch=True),
        "email": st.from_regex(r"[a-z0-9_+-]{1,10}(\.[a-z0-9]{1,10})?@[a-z0-9]{1,12}\.(de|org)", fullmatch=True),
        "salutation": st.sampled_from(["Frau", "Herr", "", None, "Divers"]),
        "first_name": text,
        "last_name": text.filter(str.strip),  # a letter needs a name
        "code": st.from_regex(r"[A-Z0-9]{12}", fullmatch=True),
    }
)


PROBE = "Guten Tag {{ name|upper }}"


@pytest.fixture
def contract(app, session, broker, manager):
    return demo_stock(session, broker, manager)["BV-4711004"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=slot_values)
def test_a_filled_stencil_is_the_message_rendered_in_full(app, contract, values):
    """Issue #28 item 6: "each message template rendered once per kind and filled per row" — with the
    same result as rendering it per row (the e-mail's text and HTML part, the letter's HTML)."""
    contract.number = values["number"]
    contract.customer = {
        **contract.customer,
        "salutation": values["salutation"],
        "first_name": values["first_name"],
        "last_name": values["last_name"],
    }
    with app.test_request_context():
        onboarding = current_settings()
        expires = clock.now() + timedelta(days=onboarding.letter_code_days)
        mail_stencils = invitations.link_email_stencils(contract, CodeChannel.LETTER, onboarding)
        letter_stencils = invitations.code_letter_stencils(expires)
        args = ("link-id", values["email"], values["name"], contract, values["token"], CodeChannel.LETTER, onboarding)
        full, filled = invitations._link_email(*args), invitations._link_email(*args, mail_stencils)
        letter_args = ("link-id", contract, values["code"], values["email"], expires, onboarding)
        full_letter = invitations._code_letter(*letter_args)
        filled_letter = invitations._code_letter(*letter_args, letter_stencils)
    assert filled["body_text"] == full["body_text"]
    assert filled["body_html"] == full["body_html"]
    assert filled_letter["body_html"] == full_letter["body_html"]
    assert values["token"] in filled["body_text"]


def test_a_template_that_changes_a_slot_s_value_is_refused(app):
    """A slot must be printed as it is: a filter on it (here |upper) would make every recipient's
    value wrong, so building the stencil fails instead."""
    app.jinja_env.loader = ChoiceLoader([DictLoader({"emails/probe.txt": PROBE}), app.jinja_env.loader])
    with app.test_request_context():
        with pytest.raises(ValueError, match="not printed as it is"):
            outbox.Stencils(("emails/probe.txt",), lambda mark: {"name": mark("name")})
        assert outbox.Stencils(("emails/probe.txt",), lambda mark: {"name": "Ida"}).fill("emails/probe.txt", {}) == (
            "Guten Tag IDA"
        )
