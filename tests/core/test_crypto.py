"""Field encryption and blind indexes (ARCHITECTURE data rules; P12, P17)."""

from __future__ import annotations

import os

import pytest

from app.core.crypto import BlindIndex, DecryptionError, Keyring


def test_seal_and_open_round_trip() -> None:
    ring = Keyring([("k1", os.urandom(32))])
    token = ring.seal(b"Jane Doe", aad=b"users.name")
    assert "Jane" not in token
    assert ring.open(token, aad=b"users.name") == b"Jane Doe"


def test_same_value_seals_differently_each_time() -> None:
    ring = Keyring([("k1", os.urandom(32))])
    assert ring.seal(b"x", aad=b"a") != ring.seal(b"x", aad=b"a")


def test_ciphertext_is_bound_to_its_purpose() -> None:
    ring = Keyring([("k1", os.urandom(32))])
    token = ring.seal(b"secret", aad=b"users.email")
    with pytest.raises(DecryptionError):
        ring.open(token, aad=b"users.phone")


def test_tampering_is_detected() -> None:
    ring = Keyring([("k1", os.urandom(32))])
    token = ring.seal(b"secret", aad=b"a")
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(DecryptionError):
        ring.open(flipped, aad=b"a")
    with pytest.raises(DecryptionError):
        ring.open("garbage", aad=b"a")


def test_rotation_new_key_seals_old_key_still_opens() -> None:
    old, new = os.urandom(32), os.urandom(32)
    before = Keyring([("k1", old)]).seal(b"v", aad=b"a")
    rotated = Keyring([("k2", new), ("k1", old)])
    assert rotated.open(before, aad=b"a") == b"v"
    after = rotated.seal(b"v", aad=b"a")
    assert Keyring.key_id_of(after) == "k2"
    with pytest.raises(DecryptionError):
        Keyring([("k2", new)]).open(before, aad=b"a")


def test_blind_index_is_exact_normalized_and_keyed() -> None:
    index = BlindIndex(os.urandom(32))
    assert index.digest("Jane@Example.com ", context="e") == index.digest(
        "jane@example.com", context="e"
    )
    assert index.digest("jane@example.com", context="e") != index.digest(
        "jane@example.com", context="phone"
    )
    other = BlindIndex(os.urandom(32))
    assert index.digest("x", context="e") != other.digest("x", context="e")
