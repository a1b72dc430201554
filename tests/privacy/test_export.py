"""The data export (P12, P13): everything held about me, and nothing about anyone else."""

from __future__ import annotations

import httpx

from app.audit.service import Actor, ActorKind, record_change
from app.core.container import Container
from app.privacy.export import EXPORT_SECTIONS
from tests.privacy.helpers import API, member


async def test_export_holds_every_section_of_my_data_only(
    client: httpx.AsyncClient, container: Container
) -> None:
    """P13: signed in; P12: another customer's data never appears."""
    ada = await member(client, container)
    grace = await member(client, container, first_name="Grace")
    await client.put(
        f"{API}/me/consents",
        json={"tracking_cookies": True, "marketing_email": False},
        headers=ada.headers,
    )
    await client.put(
        f"{API}/me/consents",
        json={"tracking_cookies": True, "marketing_email": True},
        headers=grace.headers,
    )
    await client.post(f"{API}/me/welcome", headers=ada.headers)
    async with container.database.unit_of_work() as session:
        for who in (ada, grace):
            await record_change(
                session,
                entity_type="customer",
                entity_id=who.customer_id,
                action="updated",
                actor=Actor(kind=ActorKind.CUSTOMER, ip="198.51.100.7"),
                at=container.clock.now(),
                changes={"city": ("Berlin", "Quedlinburg")},
            )

    response = await client.get(f"{API}/me/export", headers=ada.headers)
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["cache-control"] == "no-store"
    document = response.json()
    assert set(document) == set(EXPORT_SECTIONS)
    assert {"profile", "consents", "sessions", "security_events", "audit_trail"} <= set(document)
    profile = document["profile"]
    assert profile["email"] == ada.email  # decrypted contact data
    assert profile["phone"] == "+493012345678"
    assert profile["first_name"] == "Ada"
    assert sorted(c["kind"] for c in document["consents"]) == [
        "marketing_email",
        "tracking_cookies",
    ]
    assert document["sessions"]
    assert all(s["created_at"] for s in document["sessions"])
    assert {e["event_type"] for e in document["security_events"]} >= {"registered"}
    trail = document["audit_trail"]
    assert [entry["changes"] for entry in trail if entry["action"] == "updated"] == [
        {"city": {"old": "B***n", "new": "Q***g"}}
    ]
    assert len(document["welcome_cookie"]) == 1
    text = response.text
    assert grace.email not in text
    assert "Grace" not in text
    assert str(grace.customer_id) not in text
    assert grace.signed_in.user_id not in text


async def test_export_needs_sign_in(client: httpx.AsyncClient) -> None:
    """P13."""
    assert (await client.get(f"{API}/me/export")).status_code == 401
