import pytest

from core import passwords
from core.passwords import HashCost, PasswordRule, hash_password, is_common, needs_rehash, verify_password

RULE = PasswordRule(min_length=8, max_length=128)


def test_a_password_meeting_the_rule_is_accepted():
    assert RULE.problems("Kaffeetasse-42!") == []


def test_any_unicode_is_allowed():
    assert RULE.problems("Grüße→Zürich7€") == []


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Ab1!xyz", "mindestens 8 Zeichen"),
        ("kaffeetasse-42!", "Großbuchstaben"),
        ("Kaffeetasse-!!", "eine Zahl"),
        ("Kaffeetasse42", "Sonderzeichen"),
        ("A1!" + "x" * 126, "höchstens 128 Zeichen"),
    ],
)
def test_each_broken_part_of_the_rule_has_its_own_german_message(password, message):
    problems = RULE.problems(password)
    assert len(problems) == 1
    assert message in problems[0]


def test_password_containing_the_email_address_is_refused():
    problems = RULE.problems("xMax.Muster@web.de1!", "max.muster@web.de")
    assert problems == ["Das Passwort darf Ihre E-Mail-Adresse nicht enthalten."]
    assert RULE.problems("Max.Muster-2024!", "max.muster@web.de") == [
        "Das Passwort darf Ihre E-Mail-Adresse nicht enthalten."
    ]


@pytest.mark.parametrize("password", ["Password1!", "Passwort123!", "Sommer2024!", "!!Qwertz99", "Dragon#2"])
def test_common_passwords_are_refused_even_when_decorated(password):
    assert is_common(password)
    assert RULE.problems(password) == [
        "Dieses Passwort ist zu verbreitet und leicht zu erraten. Bitte wählen Sie ein anderes."
    ]


def test_uncommon_words_are_not_flagged():
    assert not is_common("Kaffeetasse-42!")


def test_hash_is_argon2id_and_verifies():
    stored = hash_password("Kaffeetasse-42!")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "Kaffeetasse-42!")
    assert not verify_password(stored, "kaffeetasse-42!")
    assert not verify_password(None, "Kaffeetasse-42!")  # unknown user: same work, still False
    assert not verify_password("not-a-hash", "x")


@pytest.fixture
def restore_cost():
    before = passwords._hasher, passwords._DUMMY_HASH
    yield
    passwords._hasher, passwords._DUMMY_HASH = before


def test_the_default_cost_is_rfc_9106s_and_a_changed_cost_asks_for_a_rehash(restore_cost):
    passwords.configure(HashCost())  # what production runs with unless PASSWORD_HASH_* say otherwise
    stored = hash_password("Kaffeetasse-42!")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert not needs_rehash(stored)
    # the suite's cheap hashes verify under any configured cost (the cost is part of the hash) …
    passwords.configure(HashCost(time_cost=1, memory_kib=64, parallelism=1))
    cheap = hash_password("Kaffeetasse-42!")
    assert cheap.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    passwords.configure(HashCost())
    assert verify_password(cheap, "Kaffeetasse-42!")
    # … and are due for a rehash once the cost is raised
    assert needs_rehash(cheap)
    # an unknown account costs what a real one does: the stand-in hash follows the configured cost
    assert passwords._DUMMY_HASH.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
