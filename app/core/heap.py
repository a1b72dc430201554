"""The cyclic garbage collector and long-lived processes.

A full collection walks every container object the process tracks. Once the application is
built that is over 200,000 objects (modules, classes, the zxcvbn dictionaries, compiled
statements, the OpenAPI schema …), and a full collection took about 110 ms on the development
machine: a request that triggered one stalled for that long, and the billing run spent a fifth
of its time in them. Those objects live as long as the process, so collecting them can never
free anything: `gc.freeze()` moves them to a permanent generation the collector does not walk,
and full collections then only look at what was allocated since (well under a millisecond).
"""

from __future__ import annotations

import gc


def freeze_long_lived_objects() -> None:
    """Call once the process has built what it keeps for its lifetime (the app and its
    container), before it starts serving or working. Garbage is collected first, so none of
    it is frozen."""
    gc.collect()
    gc.freeze()
