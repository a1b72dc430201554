"""/fraud: the analysts' tools (P3, P5, P9) and the customers' credit limits.

`fraud:read` reads checks, the review queue, rules and statistics and simulates; `fraud:write`
decides reviews, labels outcomes, tunes rules and sets credit limits. Role `fraud_analyst`
holds both, `admin` everything; API keys hold neither.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import Depends, Path, Query, status
from fastapi.responses import Response

from app.api.deps import ContainerDep, SessionDep
from app.auth.dependencies import ClientDep, require
from app.auth.principal import Principal
from app.core.errors import problem_responses
from app.core.pagination import Page, PageParams, page_params
from app.core.routing import CapabilityRouter
from app.customers.admin_service import actor_of
from app.fraud.repository import FraudCheckFilter
from app.fraud.schemas import (
    CreditLimitIn,
    CreditPositionOut,
    DayCounts,
    FraudCheckDetail,
    FraudCheckOut,
    LabelIn,
    ReasonCount,
    ReviewDecision,
    ReviewDecisionOut,
    ReviewOut,
    RuleChangeOut,
    RuleOut,
    RulePatch,
    RulesOut,
    RuleStats,
    SimulateIn,
    SimulateOut,
    StatsOut,
)
from app.fraud.staff_service import FraudStaffService, ReviewResult
from app.models.fraud import CheckKind, CheckSubject, OutcomeLabel

router = CapabilityRouter(tags=["fraud"], responses=problem_responses(401, 403))

Reader = Annotated[Principal, require("fraud:read")]
Writer = Annotated[Principal, require("fraud:write")]
Paging = Annotated[PageParams, Depends(page_params)]
RuleCode = Annotated[str, Path(max_length=48)]


async def get_staff_service(session: SessionDep, container: ContainerDep) -> FraudStaffService:
    return FraudStaffService(session=session, container=container)


StaffServiceDep = Annotated[FraudStaffService, Depends(get_staff_service)]


# --------------------------------------------------------------------------- checks


@router.get(
    "/fraud/checks",
    response_model=Page[FraudCheckOut],
    responses=problem_responses(400, 422),
    summary="Fraud and credit checks (order-validation records), newest first",
)
async def list_checks(
    _: Reader,
    service: StaffServiceDep,
    page: Paging,
    disposition: Annotated[
        str | None,
        Query(
            pattern=r"^(accept|review|reject|approve|decline)$",
            description="fraud: accept, review, reject; credit: approve, review, decline",
        ),
    ] = None,
    kind: Annotated[CheckKind | None, Query()] = None,
    subject: Annotated[CheckSubject | None, Query()] = None,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
    order_id: Annotated[uuid.UUID | None, Query()] = None,
    label: Annotated[OutcomeLabel | None, Query()] = None,
) -> Page[FraudCheckOut]:
    rows, next_cursor = await service.page(
        search=FraudCheckFilter(
            disposition=disposition,
            kind=kind.value if kind else None,
            subject=subject.value if subject else None,
            customer_id=customer_id,
            order_id=order_id,
            label=label.value if label else None,
        ),
        page=page,
    )
    return Page[FraudCheckOut](
        items=[FraudCheckOut.of(row) for row in rows], next_cursor=next_cursor
    )


@router.get(
    "/fraud/checks/{check_id}",
    response_model=FraudCheckDetail,
    responses=problem_responses(404),
    summary="One check with its decrypted inputs (the opening is logged as a data access)",
)
async def get_check(
    check_id: uuid.UUID, principal: Reader, service: StaffServiceDep, client: ClientDep
) -> FraudCheckDetail:
    check, inputs = await service.open_check(check_id, actor=actor_of(principal, client))
    return FraudCheckDetail.detail(check, inputs)


@router.post(
    "/fraud/checks/{check_id}/label",
    response_model=FraudCheckOut,
    responses=problem_responses(404, 422),
    summary="Label a check with its outcome: fraud_confirmed, chargeback or legitimate",
    description=(
        "Labels are outcomes learned later; they feed each rule's precision in "
        "`GET /fraud/stats`. Relabelling replaces the label; every change is audited."
    ),
)
async def label_check(
    check_id: uuid.UUID,
    body: LabelIn,
    principal: Writer,
    service: StaffServiceDep,
    client: ClientDep,
) -> FraudCheckOut:
    check = await service.label(check_id, label=body.label, actor=actor_of(principal, client))
    return FraudCheckOut.of(check)


@router.delete(
    "/fraud/checks/{check_id}/label",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(404),
    summary="Clear a check's outcome label (audited)",
)
async def clear_label(
    check_id: uuid.UUID, principal: Writer, service: StaffServiceDep, client: ClientDep
) -> Response:
    await service.label(check_id, label=None, actor=actor_of(principal, client))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- reviews


@router.get(
    "/fraud/reviews",
    response_model=Page[ReviewOut],
    responses=problem_responses(400, 422),
    summary="The review queue: checks whose order waits for a decision, oldest first",
)
async def list_reviews(_: Reader, service: StaffServiceDep, page: Paging) -> Page[ReviewOut]:
    rows, next_cursor = await service.review_queue(page=page)
    return Page[ReviewOut](items=[ReviewOut.of(row) for row in rows], next_cursor=next_cursor)


def _decision_out(result: ReviewResult) -> ReviewDecisionOut:
    return ReviewDecisionOut(
        check=FraudCheckOut.of(result.check),
        order_id=result.order.id,
        order_status=result.order.status,
        decided_checks=[check.id for check in result.decided],
    )


_DECISION_NOTES = (
    "Decides the order and every pending check of it together (fraud and credit); the note is "
    "kept encrypted with the checks and the decision is audited. A check that is not pending "
    "is 409 `fraud_review_not_pending`; an order no longer held is 409 "
    "`order_state_conflict`."
)


@router.post(
    "/fraud/reviews/{check_id}/approve",
    response_model=ReviewDecisionOut,
    responses=problem_responses(404, 409, 422),
    summary="Approve a held order: pending until paid, or active at once if already paid",
    description=_DECISION_NOTES,
)
async def approve_review(
    check_id: uuid.UUID,
    body: ReviewDecision,
    principal: Writer,
    service: StaffServiceDep,
    client: ClientDep,
) -> ReviewDecisionOut:
    result = await service.decide(
        check_id, approve=True, note=body.note, actor=actor_of(principal, client)
    )
    return _decision_out(result)


@router.post(
    "/fraud/reviews/{check_id}/reject",
    response_model=ReviewDecisionOut,
    responses=problem_responses(404, 409, 422),
    summary="Reject a held order as fraud: its unpaid invoice is voided, services cancelled",
    description=_DECISION_NOTES
    + " Rejecting does not label the check: labels are outcomes learned later.",
)
async def reject_review(
    check_id: uuid.UUID,
    body: ReviewDecision,
    principal: Writer,
    service: StaffServiceDep,
    client: ClientDep,
) -> ReviewDecisionOut:
    result = await service.decide(
        check_id, approve=False, note=body.note, actor=actor_of(principal, client)
    )
    return _decision_out(result)


# --------------------------------------------------------------------------- statistics


@router.get(
    "/fraud/stats",
    response_model=StatsOut,
    responses=problem_responses(422),
    summary="Checks per disposition per day, top reasons, and each rule's hit rate and precision",
    description=(
        "`from` and `to` are UTC dates, both included (default: the last 30 days; at most "
        "366). Hit rate = checks a rule fired on / checks in the window; precision = fired "
        "checks labelled `fraud_confirmed` or `chargeback` / fired checks with any label "
        "(null without labels)."
    ),
)
async def fraud_stats(
    _: Reader,
    service: StaffServiceDep,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: Annotated[date | None, Query()] = None,
    kind: Annotated[CheckKind | None, Query()] = CheckKind.FRAUD,
) -> StatsOut:
    stats = await service.stats(start=from_, end=to, kind=kind.value if kind else None)
    return StatsOut(
        from_=stats.start,
        to=stats.end,
        kind=stats.kind,
        total_checks=stats.total,
        labelled_checks=stats.labelled,
        days=[
            DayCounts(date=day, total=total, dispositions=counts)
            for day, total, counts in stats.days
        ],
        top_reasons=[ReasonCount(code=code, count=count) for code, count in stats.top_reasons],
        rules=[
            RuleStats(
                code=rule.code,
                fired=rule.fired,
                labelled=rule.labelled,
                hit_rate=rule.hit_rate,
                precision=rule.precision,
            )
            for rule in stats.rules
        ],
    )


# --------------------------------------------------------------------------- rules


@router.get(
    "/fraud/rules",
    response_model=RulesOut,
    summary="Every rule with its switch, weight and parameters, the thresholds and version",
)
async def list_rules(_: Reader, service: StaffServiceDep) -> RulesOut:
    rules, version = await service.rules()
    settings = service.settings
    return RulesOut(
        ruleset_version=version,
        review_threshold=settings.review_threshold,
        reject_threshold=settings.reject_threshold,
        rules=[RuleOut.of(rule) for rule in rules],
    )


@router.patch(
    "/fraud/rules/{code}",
    response_model=RuleChangeOut,
    responses=problem_responses(404, 422),
    summary="Switch a rule on or off, change its weight (0..100) or parameters (audited)",
    description=(
        "Parameters are merged into the current ones; each must be a known parameter of the "
        "rule with a value of the JSON type of its default (else 422 naming "
        "`body.params.<key>`). The rule set version changes, so later checks are told apart."
    ),
)
async def configure_rule(
    code: RuleCode,
    body: RulePatch,
    principal: Writer,
    service: StaffServiceDep,
    client: ClientDep,
) -> RuleChangeOut:
    rule, version = await service.configure_rule(
        code,
        enabled=body.enabled,
        weight=body.weight,
        params=body.params,
        actor=actor_of(principal, client),
    )
    return RuleChangeOut(rule=RuleOut.of(rule), ruleset_version=version)


@router.post(
    "/fraud/simulate",
    response_model=SimulateOut,
    responses=problem_responses(422),
    summary="Score a hypothetical order with the live rules; nothing is stored",
)
async def simulate(body: SimulateIn, _: Reader, service: StaffServiceDep) -> SimulateOut:
    inputs, assessment = await service.fraud.simulate(
        ip=body.ip,
        user_agent=body.user_agent,
        email=body.email,
        phone=body.phone,
        billing_country=body.billing_country,
        amount=body.amount,
        currency=body.currency,
        payment_country=body.payment_country,
        payment_fingerprint=body.payment_fingerprint,
        customer_id=body.customer_id,
        account_created_at=body.account_created_at,
    )
    return SimulateOut.of(inputs, assessment)


# --------------------------------------------------------------------------- credit limits


@router.get(
    "/customers/{customer_id}/credit-limit",
    response_model=CreditPositionOut,
    responses=problem_responses(404),
    summary="A customer's credit limit and credit position (outstanding, overdue, history)",
)
async def get_credit_limit(
    customer_id: uuid.UUID, _: Reader, service: StaffServiceDep
) -> CreditPositionOut:
    position = await service.credit_position(customer_id)
    return CreditPositionOut.of(position, customer_id=customer_id)


@router.put(
    "/customers/{customer_id}/credit-limit",
    response_model=CreditPositionOut,
    responses=problem_responses(404, 422),
    summary="Set (or with null remove) a customer's credit limit: account terms (audited)",
    description=(
        "In minor units of the customer's currency. A customer with a limit is on account "
        "terms: every order of theirs gets a credit check, and one that would exceed the "
        "limit is rejected."
    ),
)
async def set_credit_limit(
    customer_id: uuid.UUID,
    body: CreditLimitIn,
    principal: Writer,
    service: StaffServiceDep,
    client: ClientDep,
) -> CreditPositionOut:
    position = await service.set_credit_limit(
        customer_id, credit_limit=body.credit_limit, actor=actor_of(principal, client)
    )
    return CreditPositionOut.of(position, customer_id=customer_id)
