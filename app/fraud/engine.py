"""Scoring: run the enabled rules, add up their contributions, decide.

score = min(100, sum over fired rules of round(weight * strength)); a fired `outright` rule
(a blocklist) rejects with score 100. Disposition: reject at or above the reject threshold,
review at or above the review threshold, accept below. Risk level follows the same cut-offs
(high, medium, low). The rule set version is a short hash of everything that decided the
outcome (each rule's switch, weight and parameters, and both thresholds), so two checks with
the same version were scored by the same rules and can be compared or replayed.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.core.config import FraudSettings
from app.fraud.rules.base import RULES, Rule, RuleContext
from app.models.fraud import RiskLevel
from app.orders.checks import Disposition

MAX_SCORE = 100


@dataclass(frozen=True)
class EffectiveRule:
    """A rule as staff configured it (or its defaults)."""

    rule: Rule
    enabled: bool
    weight: int
    params: Mapping[str, Any]

    @property
    def code(self) -> str:
        return self.rule.spec.code


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    contribution: int
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "contribution": self.contribution,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class Assessment:
    score: int
    risk_level: RiskLevel
    disposition: Disposition
    reasons: tuple[Reason, ...]
    ruleset_version: str
    duration_us: int

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(reason.code for reason in self.reasons)


def effective_rules(overrides: Mapping[str, Mapping[str, Any]]) -> list[EffectiveRule]:
    """Every registered rule, in code order, with staff overrides applied
    (`{"code": {"enabled": …, "weight": …, "params": {…}}}`)."""
    rules: list[EffectiveRule] = []
    for code in sorted(RULES):
        rule = RULES[code]
        override = overrides.get(code, {})
        params = {**rule.spec.params, **dict(override.get("params") or {})}
        rules.append(
            EffectiveRule(
                rule=rule,
                enabled=bool(override.get("enabled", True)),
                weight=int(override.get("weight", rule.spec.weight)),
                params=params,
            )
        )
    return rules


def ruleset_version(rules: Iterable[EffectiveRule], settings: FraudSettings) -> str:
    described = {
        "thresholds": [settings.review_threshold, settings.reject_threshold],
        "rules": [[r.code, r.enabled, r.weight, dict(sorted(r.params.items()))] for r in rules],
    }
    encoded = json.dumps(described, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()[:12]


def decide(score: int, settings: FraudSettings) -> tuple[Disposition, RiskLevel]:
    if score >= settings.reject_threshold:
        return Disposition.REJECT, RiskLevel.HIGH
    if score >= settings.review_threshold:
        return Disposition.REVIEW, RiskLevel.MEDIUM
    return Disposition.ACCEPT, RiskLevel.LOW


async def assess(
    *, context: RuleContext, rules: list[EffectiveRule], settings: FraudSettings
) -> Assessment:
    """Run every enabled rule that applies to the subject, in order (one database session:
    rules run one after another)."""
    started = time.perf_counter()
    reasons: list[Reason] = []
    outright = False
    total = 0
    for configured in rules:
        spec = configured.rule.spec
        if not configured.enabled or context.inputs.subject not in spec.subjects:
            continue
        hit = await configured.rule.evaluate(context, configured.params)
        if hit is None:
            continue
        strength = min(max(hit.strength, 0.0), 1.0)
        contribution = round(configured.weight * strength)
        if spec.outright:
            outright = True
            contribution = MAX_SCORE
        total += contribution
        reasons.append(Reason(spec.code, hit.message, contribution, dict(hit.evidence)))
    score = MAX_SCORE if outright else min(MAX_SCORE, max(total, 0))
    disposition, risk = decide(score, settings)
    if outright:
        disposition, risk = Disposition.REJECT, RiskLevel.HIGH
    reasons.sort(key=lambda reason: -reason.contribution)
    return Assessment(
        score=score,
        risk_level=risk,
        disposition=disposition,
        reasons=tuple(reasons),
        ruleset_version=ruleset_version(rules, settings),
        duration_us=int((time.perf_counter() - started) * 1_000_000),
    )
