"""Tax rates: staff create (country and ISO 3166-2 region validated, region stored in full),
change and delete them (audited); `rate_percent` for people; the role matrix; and
`tax_rate_for`, which falls back from the region to the whole country."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog.schemas import rate_percent
from app.catalog.service import tax_rate_for
from app.core.container import Container
from app.models.user import StaffRole
from tests.catalog.helpers import TAX_RATES, audit_rows, field_names, make_tax_rate
from tests.users.helpers import problem_code, signed_in_staff

NOBODY = str(uuid.UUID(int=0))


def new_rate(**overrides: Any) -> dict[str, Any]:
    return {"country": "DE", "name": "USt", "rate_bp": 1900, **overrides}


async def test_staff_create_a_country_rate_and_a_region_rate(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    staff = await signed_in_staff(client, container, session, role=StaffRole.BILLING)

    country = await client.post(
        TAX_RATES, json=new_rate(country="de", region=None), headers=staff.headers
    )
    region = await client.post(
        TAX_RATES,
        json=new_rate(region="by", name="USt Bayern", rate_bp=725),
        headers=staff.headers,
    )

    assert country.status_code == 201, country.text
    assert region.status_code == 201, region.text
    assert {k: country.json()[k] for k in ("country", "region", "rate_bp", "rate_percent")} == {
        "country": "DE",
        "region": "",
        "rate_bp": 1900,
        "rate_percent": "19.00",
    }
    assert (region.json()["region"], region.json()["rate_percent"]) == ("DE-BY", "7.25")
    listing = await client.get(TAX_RATES, headers=staff.headers)
    assert [row["id"] for row in listing.json()["items"]] == [
        region.json()["id"],
        country.json()["id"],
    ]
    [entry] = await audit_rows(container, "tax_rate", country.json()["id"])
    assert entry.action == "created"
    assert entry.changes["rate_bp"] == {"old": None, "new": 1900}


async def test_a_second_rate_for_the_same_place_is_a_conflict(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    staff = await signed_in_staff(client, container, session)
    first = await client.post(TAX_RATES, json=new_rate(region="DE-BY"), headers=staff.headers)
    assert first.status_code == 201, first.text

    for region in ("BY", "de-by", "Bayern"):
        again = await client.post(TAX_RATES, json=new_rate(region=region), headers=staff.headers)
        assert again.status_code == 409, again.text
        assert problem_code(again) == "tax_rate_exists"
    country = await client.post(TAX_RATES, json=new_rate(region=""), headers=staff.headers)
    assert country.status_code == 201
    whole_country_again = await client.post(TAX_RATES, json=new_rate(), headers=staff.headers)
    assert problem_code(whole_country_again) == "tax_rate_exists"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"country": "XX"}, "body.country"),
        ({"country": "DEU"}, "body.country"),
        ({"region": "ZZ"}, "body.region"),
        ({"region": "US-CA"}, "body.region"),
        ({"rate_bp": 10001}, "body.rate_bp"),
        ({"rate_bp": -1}, "body.rate_bp"),
        ({"rate_bp": 19.5}, "body.rate_bp"),
        ({"name": ""}, "body.name"),
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

    response = await client.post(TAX_RATES, json=new_rate(**overrides), headers=staff.headers)

    assert response.status_code == 422, response.text
    assert field_names(response.json()) == {field}
    assert (await client.get(TAX_RATES, headers=staff.headers)).json()["items"] == []


async def test_patch_changes_the_rate_and_is_audited(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    rate = await make_tax_rate(session, country="DE", rate_bp=1600)
    await session.commit()
    staff = await signed_in_staff(client, container, session)

    response = await client.patch(
        f"{TAX_RATES}/{rate.id}", json={"rate_bp": 1900, "name": "MwSt"}, headers=staff.headers
    )

    assert response.status_code == 200, response.text
    assert (response.json()["rate_bp"], response.json()["rate_percent"]) == (1900, "19.00")
    assert (await tax_rate_for(session, country="DE", region=None)) is not None
    [entry] = await audit_rows(container, "tax_rate", str(rate.id))
    assert entry.changes["rate_bp"] == {"old": 1600, "new": 1900}

    off = await client.patch(
        f"{TAX_RATES}/{rate.id}", json={"active": False}, headers=staff.headers
    )
    assert off.json()["active"] is False
    bad = await client.patch(
        f"{TAX_RATES}/{rate.id}", json={"rate_bp": 20000}, headers=staff.headers
    )
    assert bad.status_code == 422
    assert field_names(bad.json()) == {"body.rate_bp"}
    missing = await client.patch(f"{TAX_RATES}/{NOBODY}", json={"name": "x"}, headers=staff.headers)
    assert missing.status_code == 404
    assert problem_code(missing) == "tax_rate_not_found"


async def test_delete_removes_the_rate(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    rate = await make_tax_rate(session, country="AT", rate_bp=2000)
    await session.commit()
    staff = await signed_in_staff(client, container, session)

    response = await client.delete(f"{TAX_RATES}/{rate.id}", headers=staff.headers)

    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(TAX_RATES, headers=staff.headers)).json()["items"] == []
    again = await client.delete(f"{TAX_RATES}/{rate.id}", headers=staff.headers)
    assert again.status_code == 404
    [entry] = await audit_rows(container, "tax_rate", str(rate.id))
    assert entry.action == "deleted"


async def test_support_and_anonymous_may_not_touch_tax_rates(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    rate = await make_tax_rate(session, country="DE", rate_bp=1900)
    await session.commit()
    support = await signed_in_staff(client, container, session, role=StaffRole.SUPPORT)
    requests: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", TAX_RATES, None),
        ("POST", TAX_RATES, new_rate(country="FR")),
        ("PATCH", f"{TAX_RATES}/{rate.id}", {"rate_bp": 0}),
        ("DELETE", f"{TAX_RATES}/{rate.id}", None),
    ]

    for method, url, body in requests:
        forbidden = await client.request(method, url, json=body, headers=support.headers)
        assert forbidden.status_code == 403, (method, url, forbidden.text)
        anonymous = await client.request(method, url, json=body)
        assert anonymous.status_code == 401, (method, url, anonymous.text)

    still = await tax_rate_for(session, country="DE", region=None)
    assert still is not None
    assert still.rate_bp == 1900


# --------------------------------------------------------------------------- tax_rate_for


async def test_tax_rate_for_falls_back_from_region_to_country(session: AsyncSession) -> None:
    country = await make_tax_rate(session, country="DE", rate_bp=1900)
    bavaria = await make_tax_rate(session, country="DE", region="DE-BY", rate_bp=700)
    await make_tax_rate(session, country="DE", region="DE-BE", rate_bp=500, active=False)
    await make_tax_rate(session, country="FR", region="FR-IDF", rate_bp=2000)

    async def rate_id(country_code: str, region: str | None) -> uuid.UUID | None:
        found = await tax_rate_for(session, country=country_code, region=region)
        return found.id if found is not None else None

    assert await rate_id("DE", "DE-BY") == bavaria.id
    assert await rate_id("de", "by") == bavaria.id
    assert await rate_id("DE", "DE-HH") == country.id  # no rate for the region
    assert await rate_id("DE", "DE-BE") == country.id  # the region's rate is inactive
    assert await rate_id("DE", None) == country.id
    assert await rate_id("DE", "") == country.id
    assert await rate_id("FR", "FR-ARA") is None  # no country rate to fall back to
    assert await rate_id("FR", "FR-IDF") is not None
    assert await rate_id("US", "US-CA") is None

    country.active = False
    await session.flush()
    assert await rate_id("DE", "DE-HH") is None
    assert await rate_id("DE", "DE-BY") == bavaria.id


@pytest.mark.parametrize(
    ("rate_bp", "shown"),
    [(0, "0.00"), (5, "0.05"), (725, "7.25"), (1900, "19.00"), (10000, "100.00")],
)
def test_rate_percent_is_exact(rate_bp: int, shown: str) -> None:
    assert rate_percent(rate_bp) == shown
