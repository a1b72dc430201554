"""Time-ordered identifiers (UUID version 7, RFC 9562).

Ordering by id is ordering by creation time, so keyset pagination needs one indexed column and
B-tree inserts stay at the right edge instead of scattering like random UUIDs do.

Within one process ids are also strictly increasing: ids made in the same millisecond take a
12-bit counter in `rand_a` (RFC 9562, section 6.2, method 1), so "newest first" and "latest
consent wins" never depend on random bits. Across processes, order is by millisecond.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid

_COUNTER_MAX = (1 << 12) - 1
_lock = threading.Lock()
_last_ms = -1
_counter = 0


def _next_timestamp_and_counter(now_ms: int) -> tuple[int, int]:
    global _last_ms, _counter
    with _lock:
        if now_ms > _last_ms:
            _last_ms, _counter = now_ms, secrets.randbits(11)  # leave room to count up
        elif _counter < _COUNTER_MAX:
            _counter += 1
        else:  # 4096 ids in one millisecond: borrow the next millisecond
            _last_ms, _counter = _last_ms + 1, 0
        return _last_ms, _counter


def _compose(timestamp_ms: int, rand_a: int) -> uuid.UUID:
    value = (timestamp_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= rand_a << 64
    value |= 0b10 << 62  # RFC 9562 variant
    value |= secrets.randbits(62)
    return uuid.UUID(int=value)


def new_id(*, at_ms: int | None = None) -> uuid.UUID:
    """A new UUIDv7; `at_ms` pins the timestamp (tests, back-filled rows) without the counter."""
    if at_ms is not None:
        return _compose(at_ms, secrets.randbits(12))
    timestamp_ms, counter = _next_timestamp_and_counter(time.time_ns() // 1_000_000)
    return _compose(timestamp_ms, counter)
