"""Audit values are masked before they are stored (P10 without a second copy of the data)."""

from __future__ import annotations

import pytest

from app.audit.service import mask, masked_changes


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("jane.doe@example.com", "j***@e***.com"),
        ("+4930123456", "+4***56"),
        ("Berlin", "B***n"),
        ("DE", "***"),
        ("10115", "1***"),
        (True, True),
        (None, None),
        (42, 42),
    ],
)
def test_mask(value: object, masked: object) -> None:
    assert mask(value) == masked


def test_unchanged_fields_are_dropped_and_values_masked() -> None:
    changes = masked_changes({"city": ("Berlin", "Hamburg"), "country": ("DE", "DE")})
    assert changes == {"city": {"old": "B***n", "new": "H***g"}}
    assert "Berlin" not in str(changes)
