"""What fraud analysts do: read checks, decide held orders, label outcomes, read statistics,
tune rules, simulate, and set credit limits (P3, P5, P9).

Decisions:

- Approving or rejecting a review decides the order (`OrderService.approve` / `reject`: approve
  → `pending`, or `active` at once if its invoice is paid; reject → `fraud`, its unpaid invoice
  voided, its services cancelled) and every pending check of that order together (an order
  held by both its fraud and its credit check needs one decision, not two).
- Rejecting does not label the check `fraud_confirmed`: a label is an outcome learned later (a
  chargeback, a confirmed fraud, a customer who turned out fine), and the precision statistics
  measure the rules against those outcomes, not against the analysts' own decisions.
- Every decision, label, rule change and credit limit change is audited (`record_change`);
  reading a check's decrypted inputs is logged as a staff data access (P13).
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor, record_change, record_data_access
from app.core.container import Container
from app.core.errors import Conflict, FieldError, InvalidInput, NotFound
from app.core.pagination import PageParams
from app.customers.service import CustomerService
from app.fraud.credit import CreditPosition, credit_position
from app.fraud.engine import EffectiveRule, effective_rules, ruleset_version
from app.fraud.repository import (
    FraudCheckFilter,
    FraudCheckRepository,
    QueuedCheck,
    RuleConfigRepository,
)
from app.fraud.rules import load_rules
from app.fraud.rules.base import RULES
from app.fraud.service import FraudService, stored_inputs
from app.models.customer import Customer
from app.models.fraud import FraudCheck, FraudRuleConfig, OutcomeLabel, ReviewStatus
from app.models.order import Order
from app.orders.service import OrderService

CHECK_ENTITY = "fraud_check"
RULE_ENTITY = "fraud_rule"
CUSTOMER_ENTITY = "customer"
PURPOSE_READ_CHECK = "fraud.check"
MAX_STATS_DAYS = 366
DEFAULT_STATS_DAYS = 30
TOP_REASONS = 20
FRAUD_OUTCOMES = frozenset({OutcomeLabel.FRAUD_CONFIRMED.value, OutcomeLabel.CHARGEBACK.value})
# Audit entries need a UUID; a rule is named by its code, so its id is derived from it.
RULE_NAMESPACE = uuid.UUID("6f1f2d4e-2a8c-5b7e-9c11-3d5a7f0e8b21")


def rule_entity_id(code: str) -> uuid.UUID:
    return uuid.uuid5(RULE_NAMESPACE, code)


class ReviewNotPending(Conflict):
    code = "fraud_review_not_pending"
    title = "This check is not waiting for a review decision"


class FraudRuleNotFound(NotFound):
    code = "fraud_rule_not_found"
    title = "No such fraud rule"


@dataclass(frozen=True)
class ReviewResult:
    check: FraudCheck
    order: Order
    decided: list[FraudCheck]


@dataclass(frozen=True)
class RuleStat:
    code: str
    fired: int
    labelled: int
    hit_rate: float | None
    precision: float | None


@dataclass(frozen=True)
class Stats:
    start: date
    end: date
    kind: str | None
    total: int
    labelled: int
    days: list[tuple[date, int, dict[str, int]]]
    top_reasons: list[tuple[str, int]]
    rules: list[RuleStat]


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _same_json_type(default: Any, value: Any) -> bool:
    expected, given = _json_type(default), _json_type(value)
    if expected == "number":  # a float parameter takes whole numbers too
        return given in {"number", "integer"}
    if expected != given:
        return False
    if expected == "array" and default and all(isinstance(item, str) for item in default):
        return all(isinstance(item, str) for item in value)
    return True


def validate_params(code: str, params: Mapping[str, Any]) -> None:
    """422 naming `body.params.<key>` for an unknown key or a value of another JSON type."""
    defaults = RULES[code].spec.params
    errors: list[FieldError] = []
    for key, value in params.items():
        if key not in defaults:
            errors.append(
                FieldError(
                    field=f"body.params.{key}",
                    code="unknown_param",
                    message=f"The rule {code} has no parameter {key}.",
                )
            )
        elif not _same_json_type(defaults[key], value):
            errors.append(
                FieldError(
                    field=f"body.params.{key}",
                    code="param_type",
                    message=f"Give {key} as a JSON {_json_type(defaults[key])}, like its default.",
                )
            )
    if errors:
        raise InvalidInput(errors, "Some rule parameters are invalid.")


class FraudStaffService:
    """Request-scoped: built per request from the session and the container."""

    def __init__(self, *, session: AsyncSession, container: Container) -> None:
        self.session = session
        self.container = container
        self.clock = container.clock
        self.settings = container.settings.fraud
        self.checks = FraudCheckRepository(session)
        self.configs = RuleConfigRepository(session)
        self.fraud = FraudService(session=session, container=container)
        load_rules()

    # ------------------------------------------------------------------ checks

    async def page(
        self, *, search: FraudCheckFilter, page: PageParams
    ) -> tuple[Sequence[FraudCheck], str | None]:
        return await self.checks.page(search=search, page=page)

    async def open_check(
        self, check_id: uuid.UUID, *, actor: Actor
    ) -> tuple[FraudCheck, dict[str, Any]]:
        """The check with its decrypted inputs; the opening is logged (they hold an IP)."""
        check = await self.checks.get_or_raise(check_id)
        if check.customer_id is not None:
            await record_data_access(
                self.session,
                customer_id=check.customer_id,
                actor=actor,
                purpose=PURPOSE_READ_CHECK,
                at=self.clock.now(),
            )
        return check, dict(stored_inputs(check))

    # ------------------------------------------------------------------ reviews

    async def review_queue(self, *, page: PageParams) -> tuple[list[QueuedCheck], str | None]:
        return await self.checks.review_queue(page=page)

    async def decide(
        self, check_id: uuid.UUID, *, approve: bool, note: str, actor: Actor
    ) -> ReviewResult:
        check = await self.checks.lock(check_id)
        if check.review_status != ReviewStatus.PENDING.value or check.order_id is None:
            raise ReviewNotPending(
                "Only a check whose order waits for a decision can be approved or rejected.",
                extra={"review_status": check.review_status},
            )
        orders = OrderService(session=self.session, container=self.container)
        if approve:
            order = await orders.approve(check.order_id, actor=actor)
        else:
            order = await orders.reject(check.order_id, actor=actor)
        status = ReviewStatus.APPROVED if approve else ReviewStatus.REJECTED
        now = self.clock.now()
        decided = list(await self.checks.pending_of_order(check.order_id))
        for pending in decided:
            pending.review_status = status.value
            pending.reviewed_by_id = actor.user_id
            pending.reviewed_at = now
            pending.review_note = note
            await record_change(
                self.session,
                entity_type=CHECK_ENTITY,
                entity_id=pending.id,
                action=f"review_{status.value}",
                actor=actor,
                at=now,
                changes={
                    "review_status": (ReviewStatus.PENDING.value, status.value),
                    "order_status": (None, order.status),
                },
            )
        await self.session.flush()
        return ReviewResult(check=check, order=order, decided=decided)

    # ------------------------------------------------------------------ labels

    async def label(
        self, check_id: uuid.UUID, *, label: OutcomeLabel | None, actor: Actor
    ) -> FraudCheck:
        """Set (or with None clear) the outcome label; relabelling is allowed and audited."""
        check = await self.checks.lock(check_id)
        previous = check.label
        now = self.clock.now()
        check.label = label.value if label is not None else None
        check.labelled_by_id = actor.user_id if label is not None else None
        check.labelled_at = now if label is not None else None
        await self.session.flush()
        await record_change(
            self.session,
            entity_type=CHECK_ENTITY,
            entity_id=check.id,
            action="labelled" if label is not None else "label_cleared",
            actor=actor,
            at=now,
            changes={"label": (previous, check.label)},
        )
        return check

    # ------------------------------------------------------------------ statistics

    def stats_window(self, start: date | None, end: date | None) -> tuple[date, date]:
        """Both ends inclusive UTC dates; at most 366 days (422 naming the query field)."""
        end = end or self.clock.now().astimezone(UTC).date()
        start = start or end - timedelta(days=DEFAULT_STATS_DAYS - 1)
        if start > end:
            raise InvalidInput(
                [FieldError(field="query.from", code="after_to", message="`from` is after `to`.")]
            )
        if (end - start).days + 1 > MAX_STATS_DAYS:
            raise InvalidInput(
                [
                    FieldError(
                        field="query.to",
                        code="window_too_long",
                        message=f"Ask for at most {MAX_STATS_DAYS} days at a time.",
                    )
                ]
            )
        return start, end

    async def stats(self, *, start: date | None, end: date | None, kind: str | None) -> Stats:
        """Counts per day and disposition, top reasons and per rule hit rate and precision.
        One query for the window; reasons are a JSON list, so they are counted here (the
        window is bounded)."""
        first, last = self.stats_window(start, end)
        rows = await self.checks.window(
            start=datetime.combine(first, time.min, tzinfo=UTC),
            end=datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC),
            kind=kind,
        )
        per_day: dict[date, Counter[str]] = defaultdict(Counter)
        reasons: Counter[str] = Counter()
        fired: Counter[str] = Counter()
        labelled: Counter[str] = Counter()
        confirmed: Counter[str] = Counter()
        labelled_total = 0
        for created_at, disposition, raw_reasons, label in rows:
            per_day[created_at.astimezone(UTC).date()][disposition] += 1
            if label is not None:
                labelled_total += 1
            fired_codes = {
                str(reason.get("code")) for reason in raw_reasons or [] if reason.get("code")
            }
            for code in fired_codes:
                reasons[code] += 1
                fired[code] += 1
                if label is not None:
                    labelled[code] += 1
                    if label in FRAUD_OUTCOMES:
                        confirmed[code] += 1
        total = len(rows)
        # Every registered rule (a quiet one shows 0), then codes seen but not registered
        # (the credit reasons, or rules since removed).
        codes = sorted(RULES) if kind in (None, "fraud") else []
        codes += sorted(code for code in fired if code not in RULES)
        return Stats(
            start=first,
            end=last,
            kind=kind,
            total=total,
            labelled=labelled_total,
            days=[
                (day, sum(per_day[day].values()), dict(sorted(per_day[day].items())))
                for day in sorted(per_day)
            ],
            top_reasons=sorted(reasons.items(), key=lambda item: (-item[1], item[0]))[:TOP_REASONS],
            rules=[
                RuleStat(
                    code=code,
                    fired=fired[code],
                    labelled=labelled[code],
                    hit_rate=fired[code] / total if total else None,
                    precision=confirmed[code] / labelled[code] if labelled[code] else None,
                )
                for code in codes
            ],
        )

    # ------------------------------------------------------------------ rules

    async def rules(self) -> tuple[list[EffectiveRule], str]:
        rules = effective_rules(await self.configs.overrides())
        return rules, ruleset_version(rules, self.settings)

    async def configure_rule(
        self,
        code: str,
        *,
        enabled: bool | None,
        weight: int | None,
        params: Mapping[str, Any] | None,
        actor: Actor,
    ) -> tuple[EffectiveRule, str]:
        rule = RULES.get(code)
        if rule is None:
            raise FraudRuleNotFound(f"There is no fraud rule {code!r}.")
        if params:
            validate_params(code, params)
        before = {entry.code: entry for entry in (await self.rules())[0]}[code]
        now = self.clock.now()
        config = await self.configs.find(code)
        if config is None:
            config = FraudRuleConfig(
                code=code,
                enabled=before.enabled,
                weight=before.weight,
                params={},
                updated_at=now,
            )
            self.session.add(config)
        if enabled is not None:
            config.enabled = enabled
        if weight is not None:
            config.weight = weight
        if params:
            # A new dict: the JSON column notices a replaced value, not an edited one.
            config.params = {**(config.params or {}), **dict(params)}
        config.updated_at = now
        config.updated_by_id = actor.user_id
        await self.session.flush()
        rules, version = await self.rules()
        after = {entry.code: entry for entry in rules}[code]
        changes: dict[str, tuple[Any, Any]] = {
            "enabled": (before.enabled, after.enabled),
            "weight": (before.weight, after.weight),
        }
        # Parameter values may be long lists: the trail notes which ones changed.
        changes.update(
            {
                f"params.{key}": (False, True)
                for key in sorted(after.params)
                if after.params[key] != before.params.get(key)
            }
        )
        await record_change(
            self.session,
            entity_type=RULE_ENTITY,
            entity_id=rule_entity_id(code),
            action="configured",
            actor=actor,
            at=now,
            changes=changes,
        )
        return after, version

    # ------------------------------------------------------------------ credit

    async def credit_position(self, customer_id: uuid.UUID) -> CreditPosition:
        customer = await CustomerService(session=self.session, container=self.container).get(
            customer_id
        )
        return await credit_position(self.session, customer=customer, at=self.clock.now())

    async def set_credit_limit(
        self, customer_id: uuid.UUID, *, credit_limit: int | None, actor: Actor
    ) -> CreditPosition:
        customer: Customer = await CustomerService(
            session=self.session, container=self.container
        ).lock(customer_id)
        previous = customer.credit_limit
        now = self.clock.now()
        customer.credit_limit = credit_limit
        await self.session.flush()
        await record_change(
            self.session,
            entity_type=CUSTOMER_ENTITY,
            entity_id=customer.id,
            action="credit_limit_set",
            actor=actor,
            at=now,
            changes={"credit_limit": (previous, credit_limit)},
        )
        return await credit_position(self.session, customer=customer, at=now)
