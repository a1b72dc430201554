"""Request and response bodies of the catalog: products with their prices, and tax rates.

Money is integer minor units (strict integers: `10.0` or `"10"` are refused) with an ISO 4217
currency; tax rates are basis points (1900 = 19 %), shown to people as `rate_percent`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from pydantic_core import PydanticCustomError

from app.customers.validation import currency_code
from app.models.catalog import BillingCycle, Product, ProductKind, ProductPrice, TaxRate

MAX_AMOUNT = 10**9
MAX_PRICES = 60  # every cycle in ten currencies
CODE_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
_NO_CONTROL = r"^[^\x00-\x1f\x7f]+$"
_NO_CONTROL_MULTILINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


def _currency(value: str) -> str:
    code = currency_code(value)
    if code is None:
        raise PydanticCustomError("currency_unknown", "Use an ISO 4217 currency code, e.g. EUR.")
    return code


Currency = Annotated[
    str,
    StringConstraints(min_length=3, max_length=3),
    AfterValidator(_currency),
]
Money = Annotated[int, Field(ge=0, le=MAX_AMOUNT, strict=True, description="minor units")]
ProductCode = Annotated[
    str, Field(pattern=CODE_PATTERN, description="stable slug, e.g. `web-starter`")
]
ProductName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_NO_CONTROL)
]
Description = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=5000, pattern=_NO_CONTROL_MULTILINE)
]
RateBp = Annotated[
    int, Field(ge=0, le=10000, strict=True, description="basis points: 1900 = 19.00 %")
]
TaxName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=_NO_CONTROL)
]


def rate_percent(rate_bp: int) -> str:
    """1900 → "19.00", 725 → "7.25": exact, no float involved."""
    return f"{rate_bp // 100}.{rate_bp % 100:02d}"


# --------------------------------------------------------------------------- products


class PriceIn(BaseModel):
    cycle: BillingCycle
    currency: Currency
    amount: Money
    setup_fee: Money = 0


class ProductCreate(BaseModel):
    code: ProductCode
    name: ProductName
    description: Description = ""
    kind: ProductKind
    prices: list[PriceIn] = Field(
        default_factory=list,
        max_length=MAX_PRICES,
        description="at most one per cycle and currency",
    )


class ProductPatch(BaseModel):
    """Only the fields given change; `null` leaves a field as it is."""

    name: ProductName | None = None
    description: Description | None = None
    active: bool | None = None


class PricePut(BaseModel):
    amount: Money
    setup_fee: Money = 0
    active: bool = True


class PriceOut(BaseModel):
    id: uuid.UUID
    cycle: BillingCycle
    currency: str
    amount: int = Field(description="minor units")
    setup_fee: int = Field(description="minor units, charged once")
    active: bool

    @classmethod
    def of(cls, price: ProductPrice) -> PriceOut:
        return cls(
            id=price.id,
            cycle=BillingCycle(price.cycle),
            currency=price.currency,
            amount=price.amount,
            setup_fee=price.setup_fee,
            active=price.active,
        )


class ProductOut(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    description: str
    kind: ProductKind
    active: bool
    prices: list[PriceOut]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, product: Product, prices: Sequence[ProductPrice]) -> ProductOut:
        return cls(
            id=product.id,
            code=product.code,
            name=product.name,
            description=product.description,
            kind=ProductKind(product.kind),
            active=product.active,
            prices=[PriceOut.of(price) for price in prices],
            created_at=product.created_at,
            updated_at=product.updated_at,
        )


# --------------------------------------------------------------------------- tax rates


class TaxRateCreate(BaseModel):
    country: str = Field(max_length=2, description="ISO 3166-1 alpha-2, e.g. DE")
    region: str | None = Field(
        default=None,
        max_length=64,
        description="ISO 3166-2 subdivision of the country (`DE-BY` or `BY`); empty or null "
        "for the whole country",
    )
    name: TaxName = Field(description='e.g. "VAT", "USt", "Sales tax"')
    rate_bp: RateBp
    active: bool = True


class TaxRatePatch(BaseModel):
    """Only the fields given change; `null` leaves a field as it is."""

    name: TaxName | None = None
    rate_bp: RateBp | None = None
    active: bool | None = None


class TaxRateOut(BaseModel):
    id: uuid.UUID
    country: str
    region: str = Field(description="ISO 3166-2 code, or empty for the whole country")
    name: str
    rate_bp: int = Field(description="basis points: 1900 = 19.00 %")
    rate_percent: str = Field(description='read-only, for people: "19.00"')
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, rate: TaxRate) -> TaxRateOut:
        return cls(
            id=rate.id,
            country=rate.country,
            region=rate.region,
            name=rate.name,
            rate_bp=rate.rate_bp,
            rate_percent=rate_percent(rate.rate_bp),
            active=rate.active,
            created_at=rate.created_at,
            updated_at=rate.updated_at,
        )
