"""Authenticated encryption for personal fields and cookies, blind indexes, key derivation.

Ciphertexts are `v1.<key id>.<base64url(nonce || ciphertext+tag)>`: the key id travels with the
data, so keys rotate (the first key of the ring encrypts, every key decrypts) and a re-encryption
job can find rows still under an old key. The associated data binds each ciphertext to its
purpose (e.g. `users.email`), so a value copied into another column does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import unicodedata

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Dialect, Text
from sqlalchemy.types import TypeDecorator

from app.core.config import Secrets

_VERSION = "v1"
_NONCE_BYTES = 12


class DecryptionError(ValueError):
    """A ciphertext was tampered with, truncated, or sealed under an unknown key."""


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def derive_key(root: bytes, *, purpose: str, length: int = 32) -> bytes:
    """A separate key per purpose from one root secret (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode()).derive(
        root
    )


class Keyring:
    """Ordered AES-256-GCM keys by id; the first one seals, any of them opens."""

    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("a keyring needs at least one key")
        self._keys = {kid: AESGCM(key) for kid, key in keys}
        self.primary_kid = keys[0][0]

    def seal(self, plaintext: bytes, *, aad: bytes) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._keys[self.primary_kid].encrypt(nonce, plaintext, aad)
        return f"{_VERSION}.{self.primary_kid}.{b64url_encode(nonce + sealed)}"

    def open(self, token: str, *, aad: bytes) -> bytes:
        try:
            version, kid, payload = token.split(".", 2)
            raw = b64url_decode(payload)
        except ValueError as exc:
            raise DecryptionError("malformed ciphertext") from exc
        aead = self._keys.get(kid)
        if version != _VERSION or aead is None or len(raw) <= _NONCE_BYTES:
            raise DecryptionError("unknown key or format")
        try:
            return aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], aad)
        except InvalidTag as exc:
            raise DecryptionError("ciphertext failed authentication") from exc

    @staticmethod
    def key_id_of(token: str) -> str | None:
        parts = token.split(".", 2)
        return parts[1] if len(parts) == 3 else None


class BlindIndex:
    """A keyed hash for exact lookups on encrypted values (email, phone)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def digest(self, value: str, *, context: str) -> str:
        normalized = unicodedata.normalize("NFKC", value).strip().casefold()
        message = f"{context}\x00{normalized}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


class CryptoKit:
    """Every cryptographic helper the app needs, built once from settings and injected."""

    def __init__(self, secrets: Secrets) -> None:
        self.fields = Keyring(secrets.data_keys)
        self.blind_index = BlindIndex(secrets.blind_index_key)
        self.cookies = Keyring([("c1", derive_key(secrets.secret_key, purpose="cookie-aead"))])
        self.secret_key = secrets.secret_key

    def hmac_hex(self, message: str, *, purpose: str) -> str:
        key = derive_key(self.secret_key, purpose=purpose)
        return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


# SQLAlchemy column types are built at import time and cannot receive injected objects, so the
# field keyring is installed once at startup (app factory, CLI, migrations) from settings.
_field_keyring: Keyring | None = None


def install_field_keyring(keyring: Keyring) -> None:
    global _field_keyring
    _field_keyring = keyring


def field_keyring() -> Keyring:
    if _field_keyring is None:
        raise RuntimeError("no field keyring installed; the app factory installs it")
    return _field_keyring


class EncryptedString(TypeDecorator[str]):
    """A string column stored as AES-256-GCM ciphertext bound to `context`."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return field_keyring().seal(value.encode(), aad=self.context.encode())

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return field_keyring().open(value, aad=self.context.encode()).decode()
