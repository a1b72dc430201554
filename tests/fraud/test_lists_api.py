"""The blocklist and network-list management API: `fraud:read` reads, `fraud:write` changes,
every change is audited, bad input is a 422 problem naming the field, never a 500."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.core.clock import FrozenClock
from app.core.container import Container
from app.models.audit import AuditEntry
from app.models.fraud import BlocklistEntry
from app.models.user import StaffRole
from tests.billing.helpers import billing_customer, staff
from tests.fraud.helpers import FRAUD
from tests.users.helpers import SignedIn

BLOCKLIST = f"{FRAUD}/blocklist"
PROBLEM = "application/problem+json"


@pytest.fixture
async def analyst(client: httpx.AsyncClient, container: Container) -> SignedIn:
    return await staff(client, container, StaffRole.FRAUD_ANALYST)


async def _add(
    client: httpx.AsyncClient, who: SignedIn, kind: str, value: str, **extra: Any
) -> httpx.Response:
    return await client.post(
        BLOCKLIST, json={"kind": kind, "value": value, **extra}, headers=who.headers
    )


def _field_errors(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] == "validation_failed"
    return {error["field"]: error["code"] for error in body["errors"]}


async def _audit(container: Container, entity_type: str) -> list[AuditEntry]:
    async with container.database.unit_of_work() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.entity_type == entity_type).order_by(AuditEntry.id)
        )
        return list(rows.all())


# --- blocklist --------------------------------------------------------------------------------


async def test_staff_block_each_kind_and_see_emails_and_phones_masked(
    client: httpx.AsyncClient, container: Container, analyst: SignedIn
) -> None:
    cases = [
        ("ip", "203.0.113.77/24", "203.0.113.0/24"),
        ("ip", "2001:db8::1", "2001:db8::1"),
        ("email", "Mallory.Evil@Example.org", "M***@example.org"),
        ("email_domain", "@Spam-Example.NET", "spam-example.net"),
        ("phone", "+49 30 1234-5678", "***678"),
        ("country", "ru", "RU"),
    ]
    for kind, value, display in cases:
        response = await _add(client, analyst, kind, value, note="seen in chargebacks")
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["kind"] == kind
        assert body["display"] == display
        assert body["note"] == "seen in chargebacks"
        assert body["created_by_id"] == analyst.user_id

    listed = await client.get(BLOCKLIST, headers=analyst.headers)
    assert listed.status_code == 200
    text = listed.text.lower()
    assert "mallory" not in text
    assert "12345678" not in text
    assert [item["display"] for item in listed.json()["items"]] == [
        display for _, _, display in reversed(cases)
    ]
    # Nothing personal is stored in clear beside the index either.
    async with container.database.unit_of_work() as session:
        stored = (await session.scalars(select(BlocklistEntry))).all()
    assert all("mallory" not in f"{e.value_index}{e.display}".lower() for e in stored)


async def test_blocklist_listing_pages_with_a_cursor_and_filters_by_kind(
    client: httpx.AsyncClient, analyst: SignedIn
) -> None:
    for country in ("RU", "KP", "IR"):
        assert (await _add(client, analyst, "country", country)).status_code == 201
    assert (await _add(client, analyst, "ip", "198.51.100.0/24")).status_code == 201

    first = (await client.get(BLOCKLIST, params={"limit": 2}, headers=analyst.headers)).json()
    second = (
        await client.get(
            BLOCKLIST, params={"limit": 2, "cursor": first["next_cursor"]}, headers=analyst.headers
        )
    ).json()
    countries = (
        await client.get(BLOCKLIST, params={"kind": "country"}, headers=analyst.headers)
    ).json()

    assert [i["display"] for i in first["items"]] == ["198.51.100.0/24", "IR"]
    assert [i["display"] for i in second["items"]] == ["KP", "RU"]
    assert second["next_cursor"] is None
    assert {i["display"] for i in countries["items"]} == {"RU", "KP", "IR"}


@pytest.mark.parametrize(
    ("kind", "value", "code"),
    [
        ("ip", "300.1.2.3", "invalid_ip"),
        ("ip", "10.0.0.0/33", "invalid_ip"),
        ("ip", "example.org", "invalid_ip"),
        ("email", "not-an-email", "invalid_email"),
        ("email", "a@b", "invalid_email"),
        ("email_domain", "no spaces.com", "invalid_email_domain"),
        ("phone", "12345", "invalid_phone"),
        ("phone", "+49 1", "invalid_phone"),
        ("country", "XX", "invalid_country"),
        ("country", "Germany", "invalid_country"),
    ],
)
async def test_an_invalid_value_is_422_naming_the_value_field(
    client: httpx.AsyncClient, analyst: SignedIn, kind: str, value: str, code: str
) -> None:
    response = await _add(client, analyst, kind, value)
    assert _field_errors(response) == {"body.value": code}
    assert value not in response.json()["errors"][0]["message"]


async def test_an_unknown_kind_or_a_past_expiry_is_422_naming_the_field(
    client: httpx.AsyncClient, analyst: SignedIn, clock: FrozenClock
) -> None:
    unknown = await _add(client, analyst, "asn", "AS13335")
    past = await _add(
        client,
        analyst,
        "country",
        "RU",
        expires_at=(clock.now() - timedelta(minutes=1)).isoformat(),
    )
    naive = await _add(client, analyst, "country", "RU", expires_at="2030-01-01T00:00:00")

    assert "body.kind" in _field_errors(unknown)
    assert _field_errors(past) == {"body.expires_at": "expires_at_in_past"}
    assert "body.expires_at" in _field_errors(naive)


async def test_blocking_a_value_twice_is_409_whatever_its_spelling(
    client: httpx.AsyncClient, analyst: SignedIn
) -> None:
    pairs = [
        ("ip", "198.51.100.7", "198.51.100.7/32"),
        ("ip", "198.51.100.0/24", "198.51.100.99/24"),
        ("email", "mallory@example.org", "MALLORY@example.ORG"),
        ("email_domain", "spam-example.net", "Spam-Example.net."),
        ("phone", "+493012345678", "+49 (30) 1234 5678"),
        ("country", "ru", "RU"),
    ]
    for kind, first, again in pairs:
        created = await _add(client, analyst, kind, first)
        assert created.status_code == 201, created.text
        duplicate = await _add(client, analyst, kind, again)
        assert duplicate.status_code == 409, (kind, again)
        assert duplicate.headers["content-type"].startswith(PROBLEM)
        assert duplicate.json()["code"] == "blocklist_entry_exists"
        assert duplicate.json()["entry_id"] == created.json()["id"]


async def test_deleting_an_entry_removes_it_and_is_audited_with_the_creation(
    client: httpx.AsyncClient, container: Container, analyst: SignedIn
) -> None:
    created = (await _add(client, analyst, "email", "mallory@example.org")).json()

    deleted = await client.delete(f"{BLOCKLIST}/{created['id']}", headers=analyst.headers)
    again = await client.delete(f"{BLOCKLIST}/{created['id']}", headers=analyst.headers)

    assert deleted.status_code == 204
    assert again.status_code == 404
    assert again.json()["code"] == "blocklist_entry_not_found"
    assert (await client.get(BLOCKLIST, headers=analyst.headers)).json()["items"] == []
    entries = await _audit(container, "fraud_blocklist_entry")
    assert [e.action for e in entries] == ["created", "deleted"]
    assert all(e.entity_id == uuid.UUID(created["id"]) for e in entries)
    assert all(str(e.actor_id) == analyst.user_id for e in entries)
    assert "mallory" not in str([e.changes for e in entries]).lower()


async def test_customers_and_staff_without_fraud_scopes_may_not_use_the_blocklist(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    support = await staff(client, container, StaffRole.SUPPORT)

    for who in (customer.signed_in, support):
        listed = await client.get(BLOCKLIST, headers=who.headers)
        added = await _add(client, who, "country", "RU")
        removed = await client.delete(f"{BLOCKLIST}/{uuid.uuid4()}", headers=who.headers)
        for response in (listed, added, removed):
            assert response.status_code == 403
            assert response.headers["content-type"].startswith(PROBLEM)
    assert (await client.get(BLOCKLIST)).status_code == 401


# --- network lists ----------------------------------------------------------------------------


async def test_network_import_reports_added_duplicates_and_invalid_entries(
    client: httpx.AsyncClient, container: Container, analyst: SignedIn
) -> None:
    cidrs = [
        "81.2.69.0/24",
        "2a00:1450::/32",
        "not-a-cidr",
        " 81.2.69.5/24 ",  # the same range as the first once normalised
        "10.0.0.0/40",
        "198.51.100.7",
    ]

    response = await client.post(
        f"{FRAUD}/networks/anonymizer/import",
        json={"cidrs": cidrs, "source": "vendor feed 2026-11"},
        headers=analyst.headers,
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "list_name": "anonymizer",
        "added": 3,
        "skipped_duplicates": 1,
        "removed": 0,
        "invalid": [{"index": 2, "value": "not-a-cidr"}, {"index": 4, "value": "10.0.0.0/40"}],
    }
    listed = (await client.get(f"{FRAUD}/networks/anonymizer", headers=analyst.headers)).json()
    assert listed["count"] == 3
    assert {i["cidr"] for i in listed["items"]} == {
        "81.2.69.0/24",
        "2a00:1450::/32",
        "198.51.100.7/32",
    }
    assert {i["source"] for i in listed["items"]} == {"vendor feed 2026-11"}
    hosting = (await client.get(f"{FRAUD}/networks/hosting", headers=analyst.headers)).json()
    assert hosting["count"] == 0
    assert hosting["items"] == []
    (audited,) = await _audit(container, "fraud_network_list")
    assert audited.action == "imported"
    assert audited.changes["added"] == {"old": None, "new": 3}


async def test_network_import_again_skips_what_the_list_holds_and_replace_starts_over(
    client: httpx.AsyncClient, analyst: SignedIn
) -> None:
    url = f"{FRAUD}/networks/hosting/import"
    await client.post(
        url, json={"cidrs": ["81.2.69.0/24", "85.214.0.0/16"]}, headers=analyst.headers
    )

    again = await client.post(
        url, json={"cidrs": ["85.214.0.0/16", "145.220.0.0/16"]}, headers=analyst.headers
    )
    replaced = await client.post(
        url, json={"cidrs": ["145.220.0.0/16"], "replace": True}, headers=analyst.headers
    )

    assert again.json()["added"] == 1
    assert again.json()["skipped_duplicates"] == 1
    assert replaced.json()["removed"] == 3
    assert replaced.json()["added"] == 1
    listed = (await client.get(f"{FRAUD}/networks/hosting", headers=analyst.headers)).json()
    assert [i["cidr"] for i in listed["items"]] == ["145.220.0.0/16"]


async def test_network_list_pages_and_clears(
    client: httpx.AsyncClient, container: Container, analyst: SignedIn
) -> None:
    cidrs = [f"198.51.100.{n}" for n in range(5)]
    await client.post(
        f"{FRAUD}/networks/anonymizer/import", json={"cidrs": cidrs}, headers=analyst.headers
    )

    first = (
        await client.get(
            f"{FRAUD}/networks/anonymizer", params={"limit": 3}, headers=analyst.headers
        )
    ).json()
    second = (
        await client.get(
            f"{FRAUD}/networks/anonymizer",
            params={"limit": 3, "cursor": first["next_cursor"]},
            headers=analyst.headers,
        )
    ).json()
    assert first["count"] == second["count"] == 5
    assert len(first["items"]) == 3
    assert len(second["items"]) == 2
    assert second["next_cursor"] is None

    cleared = await client.delete(f"{FRAUD}/networks/anonymizer", headers=analyst.headers)
    assert cleared.status_code == 204
    after = (await client.get(f"{FRAUD}/networks/anonymizer", headers=analyst.headers)).json()
    assert after["count"] == 0
    actions = [e.action for e in await _audit(container, "fraud_network_list")]
    assert actions == ["imported", "cleared"]


async def test_network_import_refuses_bad_bodies_with_a_422_naming_the_field(
    client: httpx.AsyncClient, analyst: SignedIn
) -> None:
    url = f"{FRAUD}/networks/anonymizer/import"
    too_many = await client.post(
        url, json={"cidrs": ["198.51.100.1"] * 50_001}, headers=analyst.headers
    )
    empty = await client.post(url, json={"cidrs": []}, headers=analyst.headers)
    not_strings = await client.post(url, json={"cidrs": [{"a": 1}]}, headers=analyst.headers)
    unknown_list = await client.post(
        f"{FRAUD}/networks/tor/import", json={"cidrs": ["198.51.100.1"]}, headers=analyst.headers
    )

    assert "body.cidrs" in _field_errors(too_many)
    assert "body.cidrs" in _field_errors(empty)
    assert any(field.startswith("body.cidrs") for field in _field_errors(not_strings))
    assert "path.list_name" in _field_errors(unknown_list)


async def test_network_import_counts_duplicates_across_insert_batches(
    client: httpx.AsyncClient, analyst: SignedIn
) -> None:
    url = f"{FRAUD}/networks/hosting/import"
    # More ranges than one INSERT batch holds, half of them already in the list.
    held = [f"10.{n // 256}.{n % 256}.0/24" for n in range(0, 2_500, 2)]
    await client.post(url, json={"cidrs": held}, headers=analyst.headers)
    cidrs = [f"10.{n // 256}.{n % 256}.0/24" for n in range(2_500)]

    response = await client.post(url, json={"cidrs": cidrs}, headers=analyst.headers)

    assert response.status_code == 200, response.text
    assert response.json()["added"] == 1_250
    assert response.json()["skipped_duplicates"] == 1_250
    listed = await client.get(f"{FRAUD}/networks/hosting", headers=analyst.headers)
    assert listed.json()["count"] == 2_500


async def test_customers_may_not_read_or_change_network_lists(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    responses = [
        await client.get(f"{FRAUD}/networks/anonymizer", headers=customer.headers),
        await client.post(
            f"{FRAUD}/networks/anonymizer/import",
            json={"cidrs": ["198.51.100.1"]},
            headers=customer.headers,
        ),
        await client.delete(f"{FRAUD}/networks/anonymizer", headers=customer.headers),
    ]
    assert [r.status_code for r in responses] == [403, 403, 403]
