"""/products (public reading; `catalog:write` to change) and /tax-rates (`catalog:write`).

Public reading and the staff view are separate routes: there is no optional-principal
dependency, so a public route cannot tell staff from anonymous callers. Staff read inactive
products and prices through `GET /products/all` and `GET /products/all/{product_id}`.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Response, status

from app.api.deps import ContainerDep, SessionDep
from app.auth.dependencies import ClientDep, require
from app.auth.principal import Principal
from app.catalog.schemas import (
    Currency,
    PriceOut,
    PricePut,
    ProductCreate,
    ProductOut,
    ProductPatch,
    TaxRateCreate,
    TaxRateOut,
    TaxRatePatch,
)
from app.catalog.service import CatalogService, PricedProduct
from app.core.errors import problem_responses
from app.core.pagination import Page, PageParams, page_params
from app.core.routing import CapabilityRouter
from app.models.catalog import BillingCycle, ProductKind

PUBLIC: dict[str, Any] = {"security": []}  # an explicit, visible exception to "authenticated"

products_router = CapabilityRouter(prefix="/products", tags=["products"])
tax_rates_router = CapabilityRouter(
    prefix="/tax-rates", tags=["tax-rates"], responses=problem_responses(401, 403)
)

Writer = Annotated[Principal, require("catalog:write")]
Paging = Annotated[PageParams, Depends(page_params)]
KindFilter = Annotated[ProductKind | None, Query()]
CurrencyFilter = Annotated[Currency | None, Query(description="only prices in it (ISO 4217)")]
STAFF_ERRORS = problem_responses(401, 403)


async def get_catalog_service(session: SessionDep, container: ContainerDep) -> CatalogService:
    return CatalogService(session=session, container=container)


CatalogDep = Annotated[CatalogService, Depends(get_catalog_service)]


def _out(found: PricedProduct) -> ProductOut:
    return ProductOut.of(found.product, found.prices)


def _page(rows: list[PricedProduct], next_cursor: str | None) -> Page[ProductOut]:
    return Page[ProductOut](items=[_out(row) for row in rows], next_cursor=next_cursor)


# --------------------------------------------------------------------------- products


@products_router.get(
    "",
    response_model=Page[ProductOut],
    responses=problem_responses(400, 422),
    openapi_extra=PUBLIC,
    summary="The active products and their active prices, newest first (public)",
)
async def list_products(
    catalog: CatalogDep,
    page: Paging,
    kind: KindFilter = None,
    currency: CurrencyFilter = None,
) -> Page[ProductOut]:
    rows, next_cursor = await catalog.list_products(page=page, kind=kind, currency=currency)
    return _page(rows, next_cursor)


# Declared before `/{product_id}` so the literal path is matched first.
@products_router.get(
    "/all",
    response_model=Page[ProductOut],
    responses={**STAFF_ERRORS, **problem_responses(400, 422)},
    summary="Every product and price, inactive ones included unless asked not to (staff)",
)
async def list_all_products(
    _: Writer,
    catalog: CatalogDep,
    page: Paging,
    kind: KindFilter = None,
    currency: CurrencyFilter = None,
    include_inactive: Annotated[bool, Query()] = True,
) -> Page[ProductOut]:
    rows, next_cursor = await catalog.list_products(
        page=page, kind=kind, currency=currency, include_inactive=include_inactive
    )
    return _page(rows, next_cursor)


@products_router.get(
    "/all/{product_id}",
    response_model=ProductOut,
    responses={**STAFF_ERRORS, **problem_responses(404, 422)},
    summary="One product with all its prices, active or not (staff)",
)
async def get_any_product(product_id: uuid.UUID, _: Writer, catalog: CatalogDep) -> ProductOut:
    return _out(await catalog.get_product(product_id, include_inactive=True))


@products_router.get(
    "/{product_id}",
    response_model=ProductOut,
    responses=problem_responses(404, 422),
    openapi_extra=PUBLIC,
    summary="One active product and its active prices (public)",
)
async def get_product(product_id: uuid.UUID, catalog: CatalogDep) -> ProductOut:
    return _out(await catalog.get_product(product_id))


@products_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ProductOut,
    responses={**STAFF_ERRORS, **problem_responses(409, 422)},
    summary="Add a product with its prices",
)
async def create_product(
    body: ProductCreate, principal: Writer, catalog: CatalogDep, client: ClientDep
) -> ProductOut:
    return _out(await catalog.create_product(actor=principal, client=client, data=body))


@products_router.patch(
    "/{product_id}",
    response_model=ProductOut,
    responses={**STAFF_ERRORS, **problem_responses(404, 422)},
    summary="Rename, describe, activate or deactivate a product",
)
async def update_product(
    product_id: uuid.UUID,
    body: ProductPatch,
    principal: Writer,
    catalog: CatalogDep,
    client: ClientDep,
) -> ProductOut:
    found = await catalog.update_product(
        actor=principal, client=client, product_id=product_id, data=body
    )
    return _out(found)


@products_router.put(
    "/{product_id}/prices/{cycle}/{currency}",
    response_model=PriceOut,
    responses={
        **STAFF_ERRORS,
        **problem_responses(404, 409, 422),
        201: {"model": PriceOut, "description": "Created"},
    },
    summary="Set one price of a product (created if new, replaced otherwise)",
)
async def put_price(
    product_id: uuid.UUID,
    cycle: BillingCycle,
    currency: Annotated[Currency, Path(description="ISO 4217, e.g. EUR")],
    body: PricePut,
    principal: Writer,
    catalog: CatalogDep,
    client: ClientDep,
    response: Response,
) -> PriceOut:
    price, created = await catalog.put_price(
        actor=principal,
        client=client,
        product_id=product_id,
        cycle=cycle,
        currency=currency,
        data=body,
    )
    if created:
        response.status_code = status.HTTP_201_CREATED
    return PriceOut.of(price)


# --------------------------------------------------------------------------- tax rates


@tax_rates_router.get(
    "",
    response_model=Page[TaxRateOut],
    responses=problem_responses(400, 422),
    summary="Every tax rate, newest first",
)
async def list_tax_rates(
    _: Writer,
    catalog: CatalogDep,
    page: Paging,
    country: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$")] = None,
) -> Page[TaxRateOut]:
    rows, next_cursor = await catalog.list_tax_rates(page=page, country=country)
    return Page[TaxRateOut](items=[TaxRateOut.of(row) for row in rows], next_cursor=next_cursor)


@tax_rates_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TaxRateOut,
    responses=problem_responses(409, 422),
    summary="Add a tax rate for a country or one of its regions",
)
async def create_tax_rate(
    body: TaxRateCreate, principal: Writer, catalog: CatalogDep, client: ClientDep
) -> TaxRateOut:
    rate = await catalog.create_tax_rate(
        actor=principal,
        client=client,
        country=body.country,
        region=body.region,
        name=body.name,
        rate_bp=body.rate_bp,
        active=body.active,
    )
    return TaxRateOut.of(rate)


@tax_rates_router.patch(
    "/{rate_id}",
    response_model=TaxRateOut,
    responses=problem_responses(404, 422),
    summary="Change a tax rate's percentage, name or activity",
)
async def update_tax_rate(
    rate_id: uuid.UUID,
    body: TaxRatePatch,
    principal: Writer,
    catalog: CatalogDep,
    client: ClientDep,
) -> TaxRateOut:
    rate = await catalog.update_tax_rate(actor=principal, client=client, rate_id=rate_id, data=body)
    return TaxRateOut.of(rate)


@tax_rates_router.delete(
    "/{rate_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404, 422),
    summary="Delete a tax rate (issued invoices keep the rate they applied)",
)
async def delete_tax_rate(
    rate_id: uuid.UUID, principal: Writer, catalog: CatalogDep, client: ClientDep
) -> Response:
    await catalog.delete_tax_rate(actor=principal, client=client, rate_id=rate_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
