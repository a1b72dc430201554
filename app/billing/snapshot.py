"""The buyer as billed: copied onto an invoice at issue (P1) and never changed afterwards,
so later profile changes or an erasure leave issued invoices as they were."""

from __future__ import annotations

import json
from typing import Any

from app.models.customer import Customer

SNAPSHOT_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "email",
    "address_line1",
    "address_line2",
    "city",
    "postal_code",
    "region",
    "country",
    "vat_id",
    "tax_exempt",
)


def buyer_snapshot(customer: Customer) -> dict[str, Any]:
    snapshot: dict[str, Any] = {"customer_number": customer.number}
    snapshot.update({name: getattr(customer, name) for name in SNAPSHOT_FIELDS})
    return snapshot


def encode_snapshot(snapshot: dict[str, Any]) -> str:
    return json.dumps(snapshot, ensure_ascii=False, sort_keys=True)


def decode_snapshot(raw: str | None) -> dict[str, Any] | None:
    return json.loads(raw) if raw else None
