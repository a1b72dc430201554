"""Every query behind the catalog: products, their prices and tax rates.

`Product` and `ProductPrice` have no ORM relationship, so a page of products gets its prices
with one `IN` query: a listing costs two statements whatever the page size.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from app.core.errors import DomainError, NotFound
from app.core.pagination import PageParams
from app.core.repository import Repository
from app.models.catalog import Product, ProductPrice, TaxRate


class ProductNotFound(NotFound):
    code = "product_not_found"
    title = "No such product"


class TaxRateNotFound(NotFound):
    code = "tax_rate_not_found"
    title = "No such tax rate"


@dataclass(frozen=True)
class ProductQuery:
    """The listing's filters, already normalised."""

    include_inactive: bool = False  # inactive products and inactive prices too (staff)
    kind: str | None = None
    currency: str | None = None  # only prices in it, and only products with such a price


class ProductRepository(Repository[Product]):
    model = Product
    not_found = ProductNotFound

    async def listing(
        self, query: ProductQuery, *, page: PageParams
    ) -> tuple[Sequence[Product], str | None]:
        statement = self.select()
        if not query.include_inactive:
            statement = statement.where(Product.active.is_(True))
        if query.kind is not None:
            statement = statement.where(Product.kind == query.kind)
        if query.currency is not None:
            price = select(ProductPrice.id).where(
                ProductPrice.product_id == Product.id, ProductPrice.currency == query.currency
            )
            if not query.include_inactive:
                price = price.where(ProductPrice.active.is_(True))
            statement = statement.where(exists(price))
        return await self.paginate(statement, page=page)

    async def get_for_update(self, product_id: uuid.UUID) -> Product | None:
        """Row-locked (PostgreSQL): serialises price changes of one product."""
        return await self.session.get(Product, product_id, with_for_update=True)

    async def code_taken(self, code: str) -> bool:
        found = await self.session.scalar(select(Product.id).where(Product.code == code))
        return found is not None

    async def add_unique(self, entity: Product | ProductPrice, *, conflict: DomainError) -> None:
        """Insert; a unique constraint that fires anyway (a concurrent insert won the race
        after our check) becomes `conflict` instead of a 500. The request's unit of work
        rolls back on the raised error."""
        self.session.add(entity)
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise conflict from exc


class PriceRepository(Repository[ProductPrice]):
    model = ProductPrice

    async def for_products(
        self,
        product_ids: Sequence[uuid.UUID],
        *,
        include_inactive: bool = False,
        currency: str | None = None,
    ) -> dict[uuid.UUID, list[ProductPrice]]:
        """The prices of many products in one statement, grouped by product."""
        grouped: dict[uuid.UUID, list[ProductPrice]] = defaultdict(list)
        if not product_ids:
            return grouped
        statement = select(ProductPrice).where(ProductPrice.product_id.in_(product_ids))
        if not include_inactive:
            statement = statement.where(ProductPrice.active.is_(True))
        if currency is not None:
            statement = statement.where(ProductPrice.currency == currency)
        statement = statement.order_by(ProductPrice.currency, ProductPrice.cycle)
        for price in (await self.session.scalars(statement)).all():
            grouped[price.product_id].append(price)
        return grouped

    async def find(
        self, *, product_id: uuid.UUID, cycle: str, currency: str
    ) -> ProductPrice | None:
        statement = select(ProductPrice).where(
            ProductPrice.product_id == product_id,
            ProductPrice.cycle == cycle,
            ProductPrice.currency == currency,
        )
        price: ProductPrice | None = await self.session.scalar(statement)
        return price

    async def active_price_of_active_product(
        self, *, product_id: uuid.UUID, cycle: str, currency: str
    ) -> tuple[Product, ProductPrice] | None:
        """One statement: the product and its price, both active, or None."""
        statement = (
            select(Product, ProductPrice)
            .join(ProductPrice, ProductPrice.product_id == Product.id)
            .where(
                Product.id == product_id,
                Product.active.is_(True),
                ProductPrice.cycle == cycle,
                ProductPrice.currency == currency,
                ProductPrice.active.is_(True),
            )
        )
        row = (await self.session.execute(statement)).first()
        if row is None:
            return None
        return row[0], row[1]


class TaxRateRepository(Repository[TaxRate]):
    model = TaxRate
    not_found = TaxRateNotFound

    async def listing(
        self, *, page: PageParams, country: str | None = None
    ) -> tuple[Sequence[TaxRate], str | None]:
        statement = self.select()
        if country is not None:
            statement = statement.where(TaxRate.country == country)
        return await self.paginate(statement, page=page)

    async def exists_for(self, *, country: str, region: str) -> bool:
        found = await self.session.scalar(
            select(TaxRate.id).where(TaxRate.country == country, TaxRate.region == region)
        )
        return found is not None

    async def add_unique(self, rate: TaxRate, *, conflict: DomainError) -> None:
        self.session.add(rate)
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise conflict from exc

    async def active_for(self, *, country: str, region: str) -> TaxRate | None:
        """The active rate of the region if there is one, else the country's own ('')."""
        regions = [""] if not region else [region, ""]
        statement = select(TaxRate).where(
            TaxRate.country == country,
            TaxRate.active.is_(True),
            TaxRate.region.in_(regions),
        )
        rates = {rate.region: rate for rate in (await self.session.scalars(statement)).all()}
        for value in regions:
            if value in rates:
                return rates[value]
        return None

    async def remove(self, rate: TaxRate) -> None:
        await self.session.delete(rate)
        await self.session.flush()
