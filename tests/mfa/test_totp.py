"""The pure TOTP and recovery-code helpers, against RFC 6238's SHA-1 test vectors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.core.crypto import BlindIndex
from app.mfa import totp

# RFC 6238 appendix B: the ASCII secret "12345678901234567890", 8-digit codes; the last six
# digits are the 6-digit code (dynamic truncation is taken modulo 10^digits).
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
RFC_VECTORS = [(59, "287082"), (1111111109, "081804"), (1234567890, "005924")]


@pytest.mark.parametrize(("unix", "code"), RFC_VECTORS)
def test_rfc_6238_vectors(unix: int, code: str) -> None:
    now = datetime.fromtimestamp(unix, tz=UTC)
    match = totp.match_totp(RFC_SECRET, code, now=now)
    assert match.steps == (unix // 30,)
    assert match.fresh_step(None) == unix // 30
    assert match.fresh_step(unix // 30) is None  # replay
    assert totp.match_totp(RFC_SECRET, code[:3] + " " + code[3:], now=now).matched


def test_window_is_one_step_either_side() -> None:
    now = datetime.fromtimestamp(59, tz=UTC)  # step 1
    assert totp.match_totp(RFC_SECRET, "287082", now=datetime.fromtimestamp(89, tz=UTC)).matched
    assert totp.match_totp(RFC_SECRET, "287082", now=datetime.fromtimestamp(29, tz=UTC)).matched
    assert not totp.match_totp(RFC_SECRET, "287082", now=datetime.fromtimestamp(90, tz=UTC)).matched
    assert not totp.match_totp(RFC_SECRET, "000000", now=now).matched


def test_only_six_digits_look_like_a_totp_code() -> None:
    assert totp.looks_like_totp_code("123 456")
    assert not totp.looks_like_totp_code("12345")
    assert not totp.looks_like_totp_code("1234567")
    assert not totp.looks_like_totp_code("abcd-efgh-jkmn")
    assert not totp.looks_like_totp_code("١٢٣٤٥٦")  # Arabic-Indic digits are not ASCII


def test_recovery_codes_are_well_formed_and_normalized() -> None:
    codes = totp.new_recovery_codes()
    assert len(codes) == len(set(codes)) == 10
    assert all(len(code) == 14 and code.count("-") == 2 for code in codes)
    index = BlindIndex(b"k" * 32)
    code = codes[0]
    digest = totp.recovery_code_digest(index, code)
    assert len(digest) == 64
    assert totp.recovery_code_digest(index, code.upper().replace("-", " ")) == digest
    assert totp.recovery_code_digest(BlindIndex(b"j" * 32), code) != digest  # keyed
