"""Secrets at rest (issue #25 item 11): Fernet with key rotation."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from core.crypto import SecretBox, SecretError, derived_key, is_encrypted, keys_from_config


def test_a_secret_is_encrypted_read_back_and_rotated_to_the_newest_key():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = SecretBox([old])
    token = before.encrypt("JBSWY3DPEHPK3PXP")
    assert is_encrypted(token)
    assert "JBSWY3DPEHPK3PXP" not in token
    both = SecretBox([new, old])  # a new key in front: the old tokens still read
    assert both.decrypt(token) == "JBSWY3DPEHPK3PXP"
    rotated = both.rotate(token)
    assert SecretBox([new]).decrypt(rotated) == "JBSWY3DPEHPK3PXP"  # the old key can go
    with pytest.raises(SecretError, match="cannot be read"):
        SecretBox([new]).decrypt(token)


def test_without_secrets_keys_a_key_is_derived_from_secret_key():
    keys = keys_from_config({"SECRETS_KEYS": "", "SECRET_KEY": "x" * 40})
    assert keys == [derived_key("x" * 40)]
    assert SecretBox(keys).decrypt(SecretBox(keys).encrypt("geheim")) == "geheim"
    assert not is_encrypted("JBSWY3DPEHPK3PXP")  # a base32 TOTP secret never looks like a token
