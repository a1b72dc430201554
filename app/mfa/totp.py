"""TOTP (RFC 6238: 30 s steps, 6 digits, HMAC-SHA-1) and recovery codes, with no I/O.

Codes are matched against the current time step and one step either side (clock drift), and
the function says *which* step matched, so the caller can store it and refuse that step and
every earlier one afterwards (a code is then good once, however long its window lasts).
"""

from __future__ import annotations

import hmac
import io
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno

from app.core.crypto import BlindIndex

ISSUER = "Hostledger"
DRIFT_STEPS = 1  # pyotp's valid_window=1: the previous, current and next 30 s step

RECOVERY_CODE_COUNT = 10
# No 0/o, 1/l/i: read off paper and typed back without doubt. 31 symbols, 12 of them: ~59 bits.
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
RECOVERY_GROUPS = 3
RECOVERY_GROUP_LENGTH = 4
_RECOVERY_CONTEXT = "recovery_codes"


def new_secret() -> str:
    """160 random bits in base32, the length RFC 4226 recommends."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, *, account_name: str) -> str:
    return str(pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=ISSUER))


def qr_svg(uri: str) -> str:
    """The otpauth URI as a standalone SVG document (no XML declaration)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=4, xmldecl=False)
    return buffer.getvalue().decode()


def normalize_totp_code(code: str) -> str:
    """Authenticator apps show '123 456'; people paste it with the space."""
    return "".join(code.split())


def looks_like_totp_code(code: str) -> bool:
    normalized = normalize_totp_code(code)
    return len(normalized) == 6 and normalized.isascii() and normalized.isdigit()


@dataclass(frozen=True)
class TotpMatch:
    """`steps`: every step in the drift window whose code equals the one presented."""

    steps: tuple[int, ...]

    def fresh_step(self, last_step: int | None) -> int | None:
        """The newest matching step after `last_step`, or None (no match, or only replays)."""
        fresh = [step for step in self.steps if last_step is None or step > last_step]
        return max(fresh) if fresh else None

    @property
    def matched(self) -> bool:
        return bool(self.steps)


def match_totp(secret: str, code: str, *, now: datetime) -> TotpMatch:
    """Compare in constant time against every step of the window (no early exit)."""
    presented = normalize_totp_code(code)
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    steps = tuple(
        step
        for step in range(max(0, current - DRIFT_STEPS), current + DRIFT_STEPS + 1)
        if hmac.compare_digest(totp.generate_otp(step).encode(), presented.encode())
    )
    return TotpMatch(steps=steps)


def new_recovery_code() -> str:
    """`xxxx-xxxx-xxxx` from a safe alphabet."""
    groups = (
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_GROUP_LENGTH))
        for _ in range(RECOVERY_GROUPS)
    )
    return "-".join(groups)


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    codes: set[str] = set()
    while len(codes) < count:
        codes.add(new_recovery_code())
    return sorted(codes)


def normalize_recovery_code(code: str) -> str:
    return "".join(char for char in code.lower() if char not in "- \t")


def recovery_code_digest(blind_index: BlindIndex, code: str) -> str:
    """A keyed hash (HMAC-SHA-256 with the blind-index key): a copy of the database alone is
    not enough to test guesses offline. The blind-index key is already one that never rotates
    without a re-index, so keying with it adds no new rotation burden."""
    return blind_index.digest(normalize_recovery_code(code), context=_RECOVERY_CONTEXT)
