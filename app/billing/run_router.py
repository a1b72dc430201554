"""POST /billing-runs: staff start the recurring billing run now (`billing:write`).

The run uses the server's clock (no caller-chosen date) and its own transactions, one per
batch; it is safe to start while the scheduled job runs (they take disjoint batches)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body

from app.api.deps import ContainerDep
from app.auth.dependencies import ClientDep, require
from app.auth.principal import Principal
from app.billing.run import run_billing
from app.billing.run_schemas import BillingRunOut, BillingRunRequest
from app.core.errors import problem_responses
from app.core.routing import CapabilityRouter
from app.customers.service import actor_for

router = CapabilityRouter(
    prefix="/billing-runs", tags=["billing"], responses=problem_responses(401, 403)
)

Writer = Annotated[Principal, require("billing:write")]


@router.post(
    "",
    response_model=BillingRunOut,
    responses=problem_responses(422),
    summary="Run the recurring billing now: renewal invoices for every service coming due",
)
async def start_billing_run(
    principal: Writer,
    container: ContainerDep,
    client: ClientDep,
    body: Annotated[BillingRunRequest | None, Body()] = None,
) -> BillingRunOut:
    actor = actor_for(
        user_id=principal.user_id,
        api_key_id=principal.api_key_id,
        is_staff=principal.is_staff,
        ip=client.ip,
    )
    report = await run_billing(container=container, actor=actor, limit=body.limit if body else None)
    return BillingRunOut.of(report)
