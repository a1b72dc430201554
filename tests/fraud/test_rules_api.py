"""Rule configuration: staff list the rules, switch them, change weights and parameters; a
change is audited and later checks are scored (and versioned) with it."""

from __future__ import annotations

import httpx

from app.core.container import Container
from app.fraud.staff_service import rule_entity_id
from app.models.user import StaffRole
from tests.billing.helpers import billing_customer, make_product, staff
from tests.fraud.helpers import FRAUD, IP_DE, checks_of_order, order_from
from tests.fraud.staff_helpers import analyst, audit_actions, example_rule

RULES = f"{FRAUD}/rules"


async def test_rules_are_listed_with_defaults_thresholds_and_version(
    client: httpx.AsyncClient, container: Container
) -> None:
    reader = await analyst(client, container)

    response = await client.get(RULES, headers=reader.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["review_threshold"] == 50
    assert body["reject_threshold"] == 80
    assert len(body["ruleset_version"]) == 12
    rules = {rule["code"]: rule for rule in body["rules"]}
    disposable = rules["disposable_email"]
    assert disposable["family"] == "email"
    assert disposable["title"]
    assert disposable["enabled"] is True
    assert disposable["weight"] == disposable["default_weight"] == 40
    assert disposable["outright"] is False
    assert disposable["subjects"] == ["order", "registration"]
    assert "gmail.com" in rules["free_email"]["default_params"]["domains"]


async def test_a_weight_change_scores_later_checks_with_a_new_ruleset_version(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container, country="DE")
    product_id = await make_product(container)
    await example_rule(container, weight=20)
    before = await order_from(client, customer, product_id, ip=IP_DE)
    (first,) = await checks_of_order(container, before["id"])
    assert first.score == 20
    tuner = await analyst(client, container)

    response = await client.patch(f"{RULES}/free_email", json={"weight": 55}, headers=tuner.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["rule"]["weight"] == 55
    assert body["rule"]["default_weight"] == 10
    assert body["ruleset_version"] != first.ruleset_version
    listed = (await client.get(RULES, headers=tuner.headers)).json()
    assert listed["ruleset_version"] == body["ruleset_version"]

    after = await order_from(client, customer, product_id, ip=IP_DE)
    (second,) = await checks_of_order(container, after["id"])
    assert second.score == 55
    assert second.disposition == "review"
    assert second.ruleset_version == body["ruleset_version"]
    assert after["status"] == "fraud_review"
    assert "configured" in await audit_actions(
        container, "fraud_rule", rule_entity_id("free_email")
    )


async def test_switching_a_rule_off_and_changing_its_params(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container, country="DE")
    product_id = await make_product(container)
    await example_rule(container, weight=60)
    tuner = await analyst(client, container)

    changed = await client.patch(
        f"{RULES}/free_email", json={"params": {"domains": ["example.org"]}}, headers=tuner.headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["rule"]["params"]["domains"] == ["example.org"]
    quiet = await order_from(client, customer, product_id, ip=IP_DE)
    (check,) = await checks_of_order(container, quiet["id"])
    assert check.score == 0

    off = await client.patch(
        f"{RULES}/disposable_email", json={"enabled": False}, headers=tuner.headers
    )
    assert off.status_code == 200
    rules = {
        rule["code"]: rule
        for rule in (await client.get(RULES, headers=tuner.headers)).json()["rules"]
    }
    assert rules["disposable_email"]["enabled"] is False


async def test_an_unknown_rule_is_404(client: httpx.AsyncClient, container: Container) -> None:
    tuner = await analyst(client, container)
    response = await client.patch(
        f"{RULES}/no_such_rule", json={"weight": 5}, headers=tuner.headers
    )
    assert response.status_code == 404
    assert response.json()["code"] == "fraud_rule_not_found"


async def test_invalid_changes_are_422_naming_the_field(
    client: httpx.AsyncClient, container: Container
) -> None:
    tuner = await analyst(client, container)
    cases = [
        ({"weight": 101}, ["body.weight"]),
        ({"weight": -1}, ["body.weight"]),
        ({"enabled": "maybe"}, ["body.enabled"]),
        ({"params": {"nope": 1}}, ["body.params.nope"]),
        ({"params": {"domains": "gmail.com"}}, ["body.params.domains"]),
        ({"params": {"domains": [1, 2]}}, ["body.params.domains"]),
        ({"colour": "red"}, ["body.colour"]),
    ]
    for body, fields in cases:
        response = await client.patch(f"{RULES}/free_email", json=body, headers=tuner.headers)
        assert response.status_code == 422, (body, response.text)
        assert [error["field"] for error in response.json()["errors"]] == fields, body
    listed = {
        r["code"]: r for r in (await client.get(RULES, headers=tuner.headers)).json()["rules"]
    }
    assert listed["free_email"]["weight"] == 10
    assert await audit_actions(container, "fraud_rule", rule_entity_id("free_email")) == []


async def test_rules_need_the_fraud_scopes(client: httpx.AsyncClient, container: Container) -> None:
    customer = await billing_customer(client, container)
    support = await staff(client, container, StaffRole.SUPPORT)
    for headers in (customer.headers, support.headers):
        assert (await client.get(RULES, headers=headers)).status_code == 403
        response = await client.patch(f"{RULES}/free_email", json={"weight": 1}, headers=headers)
        assert response.status_code == 403
        assert response.json()["code"] == "insufficient_scope"
