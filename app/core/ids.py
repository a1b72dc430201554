"""Time-ordered identifiers (UUID version 7, RFC 9562).

Ordering by id is ordering by creation time, so keyset pagination needs one indexed column and
B-tree inserts stay at the right edge instead of scattering like random UUIDs do.
"""

from __future__ import annotations

import secrets
import time
import uuid


def new_id(*, at_ms: int | None = None) -> uuid.UUID:
    timestamp_ms = at_ms if at_ms is not None else time.time_ns() // 1_000_000
    rand_a = secrets.randbits(12)
    rand_b = secrets.randbits(62)
    value = (timestamp_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= rand_a << 64
    value |= 0b10 << 62  # RFC 9562 variant
    value |= rand_b
    return uuid.UUID(int=value)
