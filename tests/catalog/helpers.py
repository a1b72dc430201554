"""Catalog rows built directly through the ORM, and audit look-ups, for the catalog tests."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.container import Container
from app.core.ids import new_id
from app.models.audit import AuditEntry
from app.models.catalog import Product, ProductPrice, TaxRate

API = "/api/v1"
PRODUCTS = f"{API}/products"
TAX_RATES = f"{API}/tax-rates"

_serial = itertools.count(1)
_last_ms = 0


def next_id() -> uuid.UUID:
    """UUIDv7 ids order by millisecond only: one millisecond per row keeps "newest first"
    the order the test created them in."""
    global _last_ms
    _last_ms = max(time.time_ns() // 1_000_000, _last_ms + 1)
    return new_id(at_ms=_last_ms)


async def make_product(
    session: AsyncSession,
    *,
    kind: str = "shared_hosting",
    active: bool = True,
    prices: Sequence[tuple[str, str, int, bool]] = (("monthly", "EUR", 499, True),),
    code: str | None = None,
) -> Product:
    """A product and its prices as (cycle, currency, amount, active); flushed, not committed."""
    serial = next(_serial)
    product = Product(
        id=next_id(),
        code=code or f"product-{serial}-{uuid.uuid4().hex[:6]}",
        name=f"Product {serial}",
        description="",
        kind=kind,
        active=active,
    )
    session.add(product)
    await session.flush()
    for cycle, currency, amount, price_active in prices:
        session.add(
            ProductPrice(
                id=next_id(),
                product_id=product.id,
                cycle=cycle,
                currency=currency,
                amount=amount,
                setup_fee=0,
                active=price_active,
            )
        )
    await session.flush()
    return product


async def make_tax_rate(
    session: AsyncSession,
    *,
    country: str,
    region: str = "",
    rate_bp: int,
    active: bool = True,
    name: str = "VAT",
) -> TaxRate:
    rate = TaxRate(
        id=next_id(), country=country, region=region, name=name, rate_bp=rate_bp, active=active
    )
    session.add(rate)
    await session.flush()
    return rate


async def audit_rows(container: Container, entity_type: str, entity_id: str) -> list[AuditEntry]:
    async with container.database.unit_of_work() as fresh:
        statement = (
            select(AuditEntry)
            .where(
                AuditEntry.entity_type == entity_type,
                AuditEntry.entity_id == uuid.UUID(entity_id),
            )
            .order_by(AuditEntry.id)
        )
        return list((await fresh.scalars(statement)).all())


def field_names(body: dict[str, object]) -> set[str]:
    errors = body.get("errors")
    assert isinstance(errors, list), body
    return {str(error["field"]) for error in errors}
