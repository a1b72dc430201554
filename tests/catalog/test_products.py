"""Products and prices: the public listing (active only, filters, cursor pages, a constant
number of statements), the staff view, creating, changing and pricing products (audited), the
role matrix, and `price_for`, which other services price orders with."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog.repository import ProductRepository
from app.catalog.service import PriceUnavailable, ProductCodeTaken, price_for
from app.core.container import Container
from app.models.catalog import Product
from app.models.user import StaffRole
from tests.catalog.helpers import PRODUCTS, audit_rows, field_names, make_product
from tests.users.helpers import count_statements, problem_code, signed_in_staff

NOBODY = str(uuid.UUID(int=0))


def new_product(**overrides: Any) -> dict[str, Any]:
    return {
        "code": f"web-{uuid.uuid4().hex[:8]}",
        "name": "Web Starter",
        "description": "1 site, 10 GB",
        "kind": "shared_hosting",
        "prices": [
            {"cycle": "monthly", "currency": "eur", "amount": 499, "setup_fee": 0},
            {"cycle": "annual", "currency": "EUR", "amount": 4990, "setup_fee": 1000},
        ],
        **overrides,
    }


def price_keys(product: dict[str, Any]) -> set[tuple[str, str]]:
    return {(price["cycle"], price["currency"]) for price in product["prices"]}


# --------------------------------------------------------------------------- public reading


async def test_anonymous_listing_shows_only_active_products_and_prices(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    shown = await make_product(
        session,
        prices=[("monthly", "EUR", 499, True), ("annual", "EUR", 4990, False)],
    )
    hidden = await make_product(session, active=False)
    await session.commit()

    response = await client.get(PRODUCTS)

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [item["id"] for item in items] == [str(shown.id)]
    assert price_keys(items[0]) == {("monthly", "EUR")}
    assert items[0]["prices"][0]["amount"] == 499
    assert str(hidden.id) not in response.text


async def test_listing_filters_by_kind_and_currency(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    vps = await make_product(
        session, kind="vps", prices=[("monthly", "EUR", 900, True), ("monthly", "USD", 1000, True)]
    )
    await make_product(session, kind="domain", prices=[("annual", "EUR", 1200, True)])
    await make_product(session, kind="vps", prices=[("monthly", "GBP", 800, True)])
    await session.commit()

    response = await client.get(PRODUCTS, params={"kind": "vps", "currency": "usd"})

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [item["id"] for item in items] == [str(vps.id)]
    assert price_keys(items[0]) == {("monthly", "USD")}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"currency": "XYZ"}, "query.currency"),
        ({"kind": "castle"}, "query.kind"),
        ({"limit": 0}, "query.limit"),
    ],
)
async def test_listing_names_invalid_filters(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    response = await client.get(PRODUCTS, params=params)

    assert response.status_code == 422, response.text
    assert field in field_names(response.json())


async def test_listing_pages_newest_first_with_a_cursor(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    made = [await make_product(session) for _ in range(5)]
    await session.commit()
    newest_first = [str(product.id) for product in reversed(made)]

    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        response = await client.get(PRODUCTS, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [item["id"] for item in body["items"]]
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]

    assert seen == newest_first


async def test_listing_costs_the_same_statements_for_2_and_20_products(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    for _ in range(22):
        await make_product(
            session, prices=[("monthly", "EUR", 499, True), ("annual", "EUR", 4990, True)]
        )
    await session.commit()

    counts = {}
    for limit in (2, 20):
        with count_statements(container) as statements:
            response = await client.get(PRODUCTS, params={"limit": limit})
        assert response.status_code == 200, response.text
        assert len(response.json()["items"]) == limit
        assert all(len(item["prices"]) == 2 for item in response.json()["items"])
        counts[limit] = len(statements)

    assert counts[2] == counts[20], counts
    assert counts[20] <= 2, counts  # the page, then its prices in one IN query


async def test_public_product_hides_inactive_ones_staff_see_them(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    active = await make_product(
        session, prices=[("monthly", "EUR", 499, True), ("annual", "EUR", 4990, False)]
    )
    inactive = await make_product(session, active=False)
    await session.commit()
    staff = await signed_in_staff(client, container, session, role=StaffRole.BILLING)

    shown = await client.get(f"{PRODUCTS}/{active.id}")
    assert shown.status_code == 200, shown.text
    assert price_keys(shown.json()) == {("monthly", "EUR")}

    hidden = await client.get(f"{PRODUCTS}/{inactive.id}")
    assert hidden.status_code == 404
    assert problem_code(hidden) == "product_not_found"
    assert (await client.get(f"{PRODUCTS}/{NOBODY}")).status_code == 404

    for_staff = await client.get(f"{PRODUCTS}/all/{inactive.id}", headers=staff.headers)
    assert for_staff.status_code == 200, for_staff.text
    assert for_staff.json()["active"] is False
    with_inactive_price = await client.get(f"{PRODUCTS}/all/{active.id}", headers=staff.headers)
    assert price_keys(with_inactive_price.json()) == {("monthly", "EUR"), ("annual", "EUR")}

    everything = await client.get(f"{PRODUCTS}/all", headers=staff.headers)
    assert {item["id"] for item in everything.json()["items"]} == {
        str(active.id),
        str(inactive.id),
    }
    only_active = await client.get(
        f"{PRODUCTS}/all", params={"include_inactive": "false"}, headers=staff.headers
    )
    assert [item["id"] for item in only_active.json()["items"]] == [str(active.id)]


# --------------------------------------------------------------------------- staff changes


async def test_staff_creates_a_product_with_prices(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    staff = await signed_in_staff(client, container, session, role=StaffRole.BILLING)
    body = new_product(
        prices=[
            {"cycle": "monthly", "currency": "eur", "amount": 499},
            {"cycle": "one_time", "currency": "EUR", "amount": 0, "setup_fee": 2500},
        ]
    )

    response = await client.post(PRODUCTS, json=body, headers=staff.headers)

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["code"] == body["code"]
    assert created["active"] is True
    assert price_keys(created) == {("monthly", "EUR"), ("one_time", "EUR")}
    public = await client.get(f"{PRODUCTS}/{created['id']}")
    assert public.status_code == 200
    assert {p["setup_fee"] for p in public.json()["prices"]} == {0, 2500}
    [entry] = await audit_rows(container, "product", created["id"])
    assert entry.action == "created"
    assert str(entry.actor_id) == staff.user_id
    assert entry.changes["price.one_time.EUR.setup_fee"] == {"old": None, "new": 2500}


async def test_duplicate_code_is_a_conflict(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    staff = await signed_in_staff(client, container, session)
    body = new_product()
    assert (await client.post(PRODUCTS, json=body, headers=staff.headers)).status_code == 201

    again = await client.post(PRODUCTS, json=new_product(code=body["code"]), headers=staff.headers)

    assert again.status_code == 409
    assert problem_code(again) == "product_code_taken"


async def test_concurrent_creates_with_one_code_give_one_product_and_a_conflict(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    staff = await signed_in_staff(client, container, session)
    body = new_product()

    responses = await asyncio.gather(
        *(client.post(PRODUCTS, json=body, headers=staff.headers) for _ in range(4))
    )

    assert sorted(response.status_code for response in responses) == [201, 409, 409, 409]
    listing = await client.get(f"{PRODUCTS}/all", headers=staff.headers)
    assert len(listing.json()["items"]) == 1


async def test_a_unique_violation_past_the_check_becomes_the_conflict(
    session: AsyncSession,
) -> None:
    """The last line of defence when a concurrent insert wins after our check: the constraint
    fires, and the caller gets the domain's 409 rather than a 500."""
    await make_product(session, code="web-starter")
    duplicate = Product(code="web-starter", name="Again", description="", kind="vps")

    with pytest.raises(ProductCodeTaken):
        await ProductRepository(session).add_unique(duplicate, conflict=ProductCodeTaken())
    await session.rollback()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"code": "Web Starter"}, "body.code"),
        ({"code": "-web"}, "body.code"),
        ({"code": "w"}, "body.code"),
        ({"name": "   "}, "body.name"),
        ({"kind": "castle"}, "body.kind"),
        (
            {"prices": [{"cycle": "monthly", "currency": "EUX", "amount": 1}]},
            "body.prices.0.currency",
        ),
        ({"prices": [{"cycle": "weekly", "currency": "EUR", "amount": 1}]}, "body.prices.0.cycle"),
        (
            {"prices": [{"cycle": "monthly", "currency": "EUR", "amount": -1}]},
            "body.prices.0.amount",
        ),
        (
            {"prices": [{"cycle": "monthly", "currency": "EUR", "amount": 10**9 + 1}]},
            "body.prices.0.amount",
        ),
        (
            {"prices": [{"cycle": "monthly", "currency": "EUR", "amount": 4.99}]},
            "body.prices.0.amount",
        ),
        (
            {"prices": [{"cycle": "monthly", "currency": "EUR", "amount": 1, "setup_fee": -5}]},
            "body.prices.0.setup_fee",
        ),
        (
            {
                "prices": [
                    {"cycle": "monthly", "currency": "EUR", "amount": 1},
                    {"cycle": "annual", "currency": "EUR", "amount": 10},
                    {"cycle": "monthly", "currency": "eur", "amount": 2},
                ]
            },
            "body.prices.2.currency",
        ),
    ],
)
async def test_create_names_the_invalid_field(
    client: httpx.AsyncClient,
    container: Container,
    session: AsyncSession,
    overrides: dict[str, Any],
    field: str,
) -> None:
    staff = await signed_in_staff(client, container, session)

    response = await client.post(PRODUCTS, json=new_product(**overrides), headers=staff.headers)

    assert response.status_code == 422, response.text
    assert field_names(response.json()) == {field}
    listing = await client.get(f"{PRODUCTS}/all", headers=staff.headers)
    assert listing.json()["items"] == []


async def test_staff_patch_renames_and_deactivates(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    product = await make_product(session)
    await session.commit()
    staff = await signed_in_staff(client, container, session)

    response = await client.patch(
        f"{PRODUCTS}/{product.id}",
        json={"name": "Web Pro", "description": "More", "active": False},
        headers=staff.headers,
    )

    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["active"]) == ("Web Pro", False)
    assert (await client.get(f"{PRODUCTS}/{product.id}")).status_code == 404
    assert (await client.get(PRODUCTS)).json()["items"] == []
    [entry] = await audit_rows(container, "product", str(product.id))
    assert entry.action == "updated"
    assert set(entry.changes) == {"name", "description", "active"}
    assert entry.changes["active"] == {"old": True, "new": False}

    unchanged = await client.patch(
        f"{PRODUCTS}/{product.id}", json={"active": False}, headers=staff.headers
    )
    assert unchanged.status_code == 200
    assert len(await audit_rows(container, "product", str(product.id))) == 1
    missing = await client.patch(f"{PRODUCTS}/{NOBODY}", json={"name": "x"}, headers=staff.headers)
    assert missing.status_code == 404
    blank = await client.patch(f"{PRODUCTS}/{product.id}", json={"name": ""}, headers=staff.headers)
    assert blank.status_code == 422
    assert field_names(blank.json()) == {"body.name"}


async def test_put_price_creates_then_replaces(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    product = await make_product(session, prices=[("monthly", "EUR", 499, True)])
    await session.commit()
    staff = await signed_in_staff(client, container, session)
    url = f"{PRODUCTS}/{product.id}/prices"

    created = await client.put(
        f"{url}/one_time/usd", json={"amount": 0, "setup_fee": 1500}, headers=staff.headers
    )
    assert created.status_code == 201, created.text
    assert (created.json()["cycle"], created.json()["currency"]) == ("one_time", "USD")

    replaced = await client.put(
        f"{url}/monthly/EUR", json={"amount": 599, "active": False}, headers=staff.headers
    )
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["amount"], replaced.json()["active"]) == (599, False)

    public = await client.get(f"{PRODUCTS}/{product.id}")
    assert price_keys(public.json()) == {("one_time", "USD")}
    staff_view = await client.get(f"{PRODUCTS}/all/{product.id}", headers=staff.headers)
    assert len(staff_view.json()["prices"]) == 2
    actions = [row.action for row in await audit_rows(container, "product", str(product.id))]
    assert actions == ["price_created", "updated"]
    last = (await audit_rows(container, "product", str(product.id)))[-1]
    assert last.changes["price.monthly.EUR.amount"] == {"old": 499, "new": 599}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("monthly/ZZZ", {"amount": 1}, "path.currency"),
        ("weekly/EUR", {"amount": 1}, "path.cycle"),
        ("monthly/EUR", {"amount": -1}, "body.amount"),
        ("monthly/EUR", {"amount": "12"}, "body.amount"),
        ("monthly/EUR", {}, "body.amount"),
    ],
)
async def test_put_price_names_the_invalid_field(
    client: httpx.AsyncClient,
    container: Container,
    session: AsyncSession,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    product = await make_product(session)
    await session.commit()
    staff = await signed_in_staff(client, container, session)

    response = await client.put(
        f"{PRODUCTS}/{product.id}/prices/{path}", json=body, headers=staff.headers
    )

    assert response.status_code == 422, response.text
    assert field in field_names(response.json())


async def test_put_price_of_unknown_product_is_404(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    staff = await signed_in_staff(client, container, session)

    response = await client.put(
        f"{PRODUCTS}/{NOBODY}/prices/monthly/EUR", json={"amount": 1}, headers=staff.headers
    )

    assert response.status_code == 404
    assert problem_code(response) == "product_not_found"


# --------------------------------------------------------------------------- who may write


def _writes(product_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("POST", PRODUCTS, new_product()),
        ("PATCH", f"{PRODUCTS}/{product_id}", {"name": "x"}),
        ("PUT", f"{PRODUCTS}/{product_id}/prices/monthly/EUR", {"amount": 1}),
        ("GET", f"{PRODUCTS}/all", None),
        ("GET", f"{PRODUCTS}/all/{product_id}", None),
    ]


async def test_support_may_not_change_the_catalog(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    product = await make_product(session, prices=[("monthly", "EUR", 499, True)])
    await session.commit()
    support = await signed_in_staff(client, container, session, role=StaffRole.SUPPORT)

    for method, url, body in _writes(str(product.id)):
        response = await client.request(method, url, json=body, headers=support.headers)
        assert response.status_code == 403, (method, url, response.text)
        assert problem_code(response) == "insufficient_scope"

    unchanged = await client.get(f"{PRODUCTS}/{product.id}")
    assert unchanged.json()["name"] == product.name
    assert unchanged.json()["prices"][0]["amount"] == 499


async def test_anonymous_writes_need_authentication(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    product = await make_product(session)
    await session.commit()

    for method, url, body in _writes(str(product.id)):
        response = await client.request(method, url, json=body)
        assert response.status_code == 401, (method, url, response.text)


# --------------------------------------------------------------------------- price_for


async def test_price_for_returns_only_active_prices_of_active_products(
    session: AsyncSession,
) -> None:
    product = await make_product(
        session, prices=[("monthly", "EUR", 499, True), ("annual", "EUR", 4990, False)]
    )
    retired = await make_product(session, active=False, prices=[("monthly", "EUR", 100, True)])

    found, price = await price_for(session, product_id=product.id, cycle="monthly", currency="eur")
    assert found.id == product.id
    assert (price.cycle, price.currency, price.amount) == ("monthly", "EUR", 499)

    for product_id, cycle, currency in [
        (product.id, "annual", "EUR"),  # inactive price
        (product.id, "monthly", "USD"),  # no price in that currency
        (product.id, "weekly", "EUR"),  # no such cycle
        (retired.id, "monthly", "EUR"),  # inactive product
        (uuid.UUID(NOBODY), "monthly", "EUR"),  # no product
    ]:
        with pytest.raises(PriceUnavailable) as caught:
            await price_for(session, product_id=product_id, cycle=cycle, currency=currency)
        assert (caught.value.status, caught.value.code) == (422, "price_unavailable")
