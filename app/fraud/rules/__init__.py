"""The rule families: importing one registers its rules (`app.fraud.rules.base.RULES`)."""

from __future__ import annotations

import importlib
from functools import cache

FAMILIES = ("email", "velocity", "history", "location", "lists")


@cache
def load_rules() -> None:
    """Import every family once (rules register themselves at import)."""
    for family in FAMILIES:
        importlib.import_module(f"app.fraud.rules.{family}")
