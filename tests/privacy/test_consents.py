"""Consents (P16, P18, P21): the member area, and the cookie-only path for visitors."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from app.core.container import Container
from app.core.cookies import CONSENT_COOKIE
from app.models.privacy import ConsentRecord
from tests.privacy.helpers import API, member
from tests.users.helpers import problem_code


async def _rows(container: Container) -> list[ConsentRecord]:
    async with container.database.unit_of_work() as fresh:
        return list((await fresh.scalars(select(ConsentRecord).order_by(ConsentRecord.id))).all())


async def test_member_consents_default_to_not_granted_and_record_each_change(
    client: httpx.AsyncClient, container: Container
) -> None:
    """P13/P18: signed in only; every change is a row with policy version, source, ip, time."""
    ada = await member(client, container)
    response = await client.get(f"{API}/me/consents", headers=ada.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["current"] == {"tracking_cookies": False, "marketing_email": False}
    assert body["history"] == []
    assert body["policy_version"] == "2026-11"

    response = await client.put(
        f"{API}/me/consents",
        json={"tracking_cookies": False, "marketing_email": True},
        headers=ada.headers,
    )
    assert response.status_code == 200
    assert response.json()["current"] == {"tracking_cookies": False, "marketing_email": True}
    assert len(response.json()["history"]) == 2  # the first choice of each kind is recorded

    response = await client.put(
        f"{API}/me/consents",
        json={"tracking_cookies": False, "marketing_email": False},
        headers=ada.headers,
    )
    body = response.json()
    assert body["current"]["marketing_email"] is False
    assert len(body["history"]) == 3  # only the withdrawal is new
    assert body["history"][0]["kind"] == "marketing_email"
    assert body["history"][0]["granted"] is False
    rows = await _rows(container)
    assert all(row.customer_id == ada.customer_id and row.visitor_id is None for row in rows)
    assert {row.source for row in rows} == {"member_area"}
    assert {row.policy_version for row in rows} == {"2026-11"}
    assert all(row.ip and row.created_at for row in rows)


async def test_member_consents_need_sign_in(client: httpx.AsyncClient) -> None:
    """P13: no personal-data endpoint without the security login."""
    assert (await client.get(f"{API}/me/consents")).status_code == 401
    response = await client.put(
        f"{API}/me/consents", json={"tracking_cookies": True, "marketing_email": True}
    )
    assert response.status_code == 401


async def test_visitor_without_cookie_gets_defaults(client: httpx.AsyncClient) -> None:
    """P21: cookies disabled means defaults, never an error."""
    response = await client.get(f"{API}/privacy/consent")
    assert response.status_code == 200
    assert response.json()["current"] == {"tracking_cookies": False, "marketing_email": False}
    assert response.json()["stored"] is False
    assert "set-cookie" not in response.headers
    garbage = {"Cookie": f"{CONSENT_COOKIE.name}=v1.c1.garbage"}
    response = await client.get(f"{API}/privacy/consent", headers=garbage)
    assert response.status_code == 200
    assert response.json()["stored"] is False


async def test_visitor_consent_lives_in_the_sealed_cookie(
    client: httpx.AsyncClient, container: Container
) -> None:
    """P16/P17: a random visitor id plus the choices, sealed; rows keyed by the visitor id."""
    response = await client.put(
        f"{API}/privacy/consent", json={"tracking_cookies": True, "marketing_email": False}
    )
    assert response.status_code == 200
    assert response.json()["stored"] is True
    raw = response.cookies[CONSENT_COOKIE.name]
    set_cookie = response.headers["set-cookie"].lower()
    assert "max-age=31536000" in set_cookie
    assert "httponly" in set_cookie
    assert "secure" in set_cookie
    response = await client.get(f"{API}/privacy/consent")
    assert response.json()["current"] == {"tracking_cookies": True, "marketing_email": False}
    assert response.json()["stored"] is True

    rows = await _rows(container)
    assert len(rows) == 2
    visitor_id = rows[0].visitor_id
    assert visitor_id
    assert all(row.visitor_id == visitor_id for row in rows)
    assert all(row.customer_id is None and row.source == "cookie_banner" for row in rows)
    assert visitor_id not in raw  # the id itself travels sealed

    response = await client.put(
        f"{API}/privacy/consent", json={"tracking_cookies": False, "marketing_email": False}
    )
    rows = await _rows(container)
    assert len(rows) == 3
    assert rows[-1].kind == "tracking_cookies"
    assert not rows[-1].granted
    assert rows[-1].visitor_id == visitor_id  # the same visitor keeps their id

    client.cookies.clear()
    await client.put(
        f"{API}/privacy/consent", json={"tracking_cookies": False, "marketing_email": True}
    )
    rows = await _rows(container)
    assert rows[-1].visitor_id != visitor_id  # a new visitor, a new random id


async def test_visitor_consent_validates_the_body(client: httpx.AsyncClient) -> None:
    response = await client.put(f"{API}/privacy/consent", json={"tracking_cookies": "maybe"})
    assert response.status_code == 422
    assert problem_code(response) == "validation_failed"
