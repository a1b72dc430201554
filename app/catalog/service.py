"""The catalog's rules: what the public sees, how staff change products, prices and tax
rates (every write audited, P10), and the two look-ups other services price orders with:
`price_for` and `tax_rate_for`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record_change
from app.auth.principal import Principal
from app.catalog.repository import (
    PriceRepository,
    ProductNotFound,
    ProductQuery,
    ProductRepository,
    TaxRateRepository,
)
from app.catalog.schemas import PriceIn, PricePut, ProductCreate, ProductPatch, TaxRatePatch
from app.core.client import ClientInfo
from app.core.container import Container
from app.core.errors import Conflict, DomainError, FieldError, InvalidInput
from app.core.pagination import PageParams
from app.customers.admin_service import actor_of
from app.customers.validation import country_code, subdivision_code
from app.models.catalog import BillingCycle, Product, ProductKind, ProductPrice, TaxRate

PRODUCT = "product"
TAX_RATE = "tax_rate"


class ProductCodeTaken(Conflict):
    code = "product_code_taken"
    title = "A product with this code exists"


class PriceConflict(Conflict):
    code = "price_conflict"
    title = "The price was changed at the same time; try again"


class TaxRateExists(Conflict):
    code = "tax_rate_exists"
    title = "A tax rate for this country and region exists"


class PriceUnavailable(DomainError):
    """The product cannot be ordered in that cycle and currency (missing, inactive, or no
    active price)."""

    status = 422
    code = "price_unavailable"
    title = "This product is not available at that cycle and currency"


@dataclass(frozen=True)
class PricedProduct:
    product: Product
    prices: Sequence[ProductPrice]


# --------------------------------------------------------------------------- for other services


async def price_for(
    session: AsyncSession, *, product_id: uuid.UUID, cycle: str, currency: str
) -> tuple[Product, ProductPrice]:
    """The active product and its active price for `cycle` and `currency`, or
    `PriceUnavailable` (422 `price_unavailable`)."""
    found = await PriceRepository(session).active_price_of_active_product(
        product_id=product_id, cycle=str(cycle), currency=currency.strip().upper()
    )
    if found is None:
        raise PriceUnavailable(
            "This product has no active price for that billing cycle and currency.",
            extra={"cycle": str(cycle), "currency": currency.strip().upper()},
        )
    return found


def normalise_region(country: str, region: str | None) -> str:
    """'' for the whole country; otherwise the full ISO 3166-2 code (`BY` → `DE-BY`)."""
    if region is None or not region.strip():
        return ""
    wanted = region.strip().upper()
    return wanted if wanted.startswith(f"{country}-") else f"{country}-{wanted}"


async def tax_rate_for(
    session: AsyncSession, *, country: str, region: str | None
) -> TaxRate | None:
    """The active rate of the region if one exists, else the active rate of the whole
    country, else None. `region` may be `DE-BY`, `BY`, '' or None."""
    code = country.strip().upper()
    return await TaxRateRepository(session).active_for(
        country=code, region=normalise_region(code, region)
    )


# --------------------------------------------------------------------------- the API's service


def _duplicate_prices(prices: Sequence[PriceIn]) -> list[FieldError]:
    seen: set[tuple[str, str]] = set()
    errors: list[FieldError] = []
    for index, price in enumerate(prices):
        key = (price.cycle.value, price.currency)
        if key in seen:
            errors.append(
                FieldError(
                    field=f"body.prices.{index}.currency",
                    code="duplicate_price",
                    message=f"A {price.cycle.value} price in {price.currency} is given twice.",
                )
            )
        seen.add(key)
    return errors


class CatalogService:
    def __init__(self, *, session: AsyncSession, container: Container) -> None:
        self.session = session
        self.clock = container.clock
        self.products = ProductRepository(session)
        self.prices = PriceRepository(session)
        self.tax_rates = TaxRateRepository(session)

    # ------------------------------------------------------------------ reading

    async def list_products(
        self,
        *,
        page: PageParams,
        include_inactive: bool = False,
        kind: ProductKind | None = None,
        currency: str | None = None,
    ) -> tuple[list[PricedProduct], str | None]:
        """Two statements whatever the page size: the page, then its prices."""
        query = ProductQuery(
            include_inactive=include_inactive,
            kind=kind.value if kind is not None else None,
            currency=currency,
        )
        rows, next_cursor = await self.products.listing(query, page=page)
        prices = await self.prices.for_products(
            [row.id for row in rows], include_inactive=include_inactive, currency=currency
        )
        return [PricedProduct(row, prices.get(row.id, [])) for row in rows], next_cursor

    async def get_product(
        self, product_id: uuid.UUID, *, include_inactive: bool = False
    ) -> PricedProduct:
        """A product and its prices; an inactive product is not found unless staff ask."""
        product = await self.products.get(product_id)
        if product is None or not (product.active or include_inactive):
            raise ProductNotFound()
        prices = await self.prices.for_products([product.id], include_inactive=include_inactive)
        return PricedProduct(product, prices.get(product.id, []))

    # ------------------------------------------------------------------ products (audited)

    async def create_product(
        self, *, actor: Principal, client: ClientInfo, data: ProductCreate
    ) -> PricedProduct:
        duplicates = _duplicate_prices(data.prices)
        if duplicates:
            raise InvalidInput(duplicates)
        taken = ProductCodeTaken(f"The product code {data.code!r} is already in use.")
        if await self.products.code_taken(data.code):
            raise taken
        now = self.clock.now()
        product = Product(
            code=data.code,
            name=data.name,
            description=data.description,
            kind=data.kind.value,
            active=True,
            created_at=now,
            updated_at=now,
        )
        await self.products.add_unique(product, conflict=taken)
        prices = [
            ProductPrice(
                product_id=product.id,
                cycle=price.cycle.value,
                currency=price.currency,
                amount=price.amount,
                setup_fee=price.setup_fee,
                active=True,
                created_at=now,
                updated_at=now,
            )
            for price in data.prices
        ]
        self.session.add_all(prices)
        await self.session.flush()
        changes: dict[str, tuple[Any, Any]] = {
            "code": (None, product.code),
            "name": (None, product.name),
            "kind": (None, product.kind),
        }
        for price in prices:
            changes[f"price.{price.cycle}.{price.currency}.amount"] = (None, price.amount)
            changes[f"price.{price.cycle}.{price.currency}.setup_fee"] = (None, price.setup_fee)
        await record_change(
            self.session,
            entity_type=PRODUCT,
            entity_id=product.id,
            action="created",
            actor=actor_of(actor, client),
            at=now,
            changes=changes,
        )
        prices.sort(key=lambda price: (price.currency, price.cycle))
        return PricedProduct(product, prices)

    async def update_product(
        self, *, actor: Principal, client: ClientInfo, product_id: uuid.UUID, data: ProductPatch
    ) -> PricedProduct:
        product = await self.products.get_for_update(product_id)
        if product is None:
            raise ProductNotFound()
        changes: dict[str, tuple[Any, Any]] = {}
        for field in ("name", "description", "active"):
            value = getattr(data, field)
            if value is not None and value != getattr(product, field):
                changes[field] = (getattr(product, field), value)
                setattr(product, field, value)
        if changes:
            now = self.clock.now()
            product.updated_at = now
            await self.session.flush()
            await record_change(
                self.session,
                entity_type=PRODUCT,
                entity_id=product.id,
                action="updated",
                actor=actor_of(actor, client),
                at=now,
                changes=changes,
            )
        prices = await self.prices.for_products([product.id], include_inactive=True)
        return PricedProduct(product, prices.get(product.id, []))

    async def put_price(
        self,
        *,
        actor: Principal,
        client: ClientInfo,
        product_id: uuid.UUID,
        cycle: BillingCycle,
        currency: str,
        data: PricePut,
    ) -> tuple[ProductPrice, bool]:
        """Create or replace one price; returns it and whether it was created. The product row
        is locked first, so two concurrent writes of one price queue instead of colliding."""
        product = await self.products.get_for_update(product_id)
        if product is None:
            raise ProductNotFound()
        now = self.clock.now()
        price = await self.prices.find(product_id=product.id, cycle=cycle.value, currency=currency)
        created = price is None
        before: dict[str, Any] = {"amount": None, "setup_fee": None, "active": None}
        if price is None:
            price = ProductPrice(
                product_id=product.id,
                cycle=cycle.value,
                currency=currency,
                amount=data.amount,
                setup_fee=data.setup_fee,
                active=data.active,
                created_at=now,
                updated_at=now,
            )
            await self.products.add_unique(
                price, conflict=PriceConflict("This price was created at the same time.")
            )
        else:
            before = {"amount": price.amount, "setup_fee": price.setup_fee, "active": price.active}
            price.amount = data.amount
            price.setup_fee = data.setup_fee
            price.active = data.active
            price.updated_at = now
            await self.session.flush()
        prefix = f"price.{cycle.value}.{currency}"
        await record_change(
            self.session,
            entity_type=PRODUCT,
            entity_id=product.id,
            action="price_created" if created else "updated",
            actor=actor_of(actor, client),
            at=now,
            changes={
                f"{prefix}.amount": (before["amount"], price.amount),
                f"{prefix}.setup_fee": (before["setup_fee"], price.setup_fee),
                f"{prefix}.active": (before["active"], price.active),
            },
        )
        return price, created

    # ------------------------------------------------------------------ tax rates (audited)

    async def list_tax_rates(
        self, *, page: PageParams, country: str | None = None
    ) -> tuple[Sequence[TaxRate], str | None]:
        return await self.tax_rates.listing(
            page=page, country=country.strip().upper() if country else None
        )

    async def create_tax_rate(
        self,
        *,
        actor: Principal,
        client: ClientInfo,
        country: str,
        region: str | None,
        name: str,
        rate_bp: int,
        active: bool,
    ) -> TaxRate:
        code, region_code = self._place(country, region)
        exists = TaxRateExists(
            "A tax rate for this country and region exists; change it instead.",
            extra={"country": code, "region": region_code},
        )
        if await self.tax_rates.exists_for(country=code, region=region_code):
            raise exists
        now = self.clock.now()
        rate = TaxRate(
            country=code,
            region=region_code,
            name=name,
            rate_bp=rate_bp,
            active=active,
            created_at=now,
            updated_at=now,
        )
        await self.tax_rates.add_unique(rate, conflict=exists)
        await record_change(
            self.session,
            entity_type=TAX_RATE,
            entity_id=rate.id,
            action="created",
            actor=actor_of(actor, client),
            at=now,
            changes={
                "country": (None, code),
                "region": (None, region_code),
                "name": (None, name),
                "rate_bp": (None, rate_bp),
                "active": (None, active),
            },
        )
        return rate

    async def update_tax_rate(
        self, *, actor: Principal, client: ClientInfo, rate_id: uuid.UUID, data: TaxRatePatch
    ) -> TaxRate:
        rate = await self.tax_rates.get_or_raise(rate_id)
        changes: dict[str, tuple[Any, Any]] = {}
        for field in ("name", "rate_bp", "active"):
            value = getattr(data, field)
            if value is not None and value != getattr(rate, field):
                changes[field] = (getattr(rate, field), value)
                setattr(rate, field, value)
        if changes:
            now = self.clock.now()
            rate.updated_at = now
            await self.session.flush()
            await record_change(
                self.session,
                entity_type=TAX_RATE,
                entity_id=rate.id,
                action="updated",
                actor=actor_of(actor, client),
                at=now,
                changes=changes,
            )
        return rate

    async def delete_tax_rate(
        self, *, actor: Principal, client: ClientInfo, rate_id: uuid.UUID
    ) -> None:
        """Invoices copy the rate they applied (`tax_rate_bp`), so deleting one rewrites no
        history; deactivating (`active: false`) keeps it for later."""
        rate = await self.tax_rates.get_or_raise(rate_id)
        changes: dict[str, tuple[Any, Any]] = {
            "country": (rate.country, None),
            "region": (rate.region, None),
            "rate_bp": (rate.rate_bp, None),
        }
        await self.tax_rates.remove(rate)
        await record_change(
            self.session,
            entity_type=TAX_RATE,
            entity_id=rate_id,
            action="deleted",
            actor=actor_of(actor, client),
            at=self.clock.now(),
            changes=changes,
        )

    @staticmethod
    def _place(country: str, region: str | None) -> tuple[str, str]:
        """(alpha-2 country, '' or the full ISO 3166-2 code), naming each invalid field."""
        code = country_code(country)
        if code is None:
            raise InvalidInput(
                [
                    FieldError(
                        field="body.country",
                        code="country_unknown",
                        message="Use an ISO 3166-1 alpha-2 country code, e.g. DE.",
                    )
                ]
            )
        if region is None or not region.strip():
            return code, ""
        subdivision = subdivision_code(code, region)
        if subdivision is None:
            raise InvalidInput(
                [
                    FieldError(
                        field="body.region",
                        code="region_not_in_country",
                        message="Use an ISO 3166-2 subdivision of the country (e.g. DE-BY).",
                    )
                ]
            )
        return code, subdivision
