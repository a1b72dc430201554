"""API shapes of the billing run."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from app.billing.run import BillingRunReport


class BillingRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int | None = Field(
        default=None, ge=1, le=1_000_000, description="examine at most this many services"
    )


class PassedServiceOut(BaseModel):
    service_id: uuid.UUID
    reason: str = Field(
        description="already_invoiced (skipped), customer_not_billable, not_renewable, or the"
        " code of the error that stopped it (failed)"
    )


class BillingRunOut(BaseModel):
    """What one run did; amounts are minor units of each currency, tax included."""

    today: date = Field(description="the server's date the run used")
    due_by: date = Field(description="services due on or before this day were renewed")
    services_examined: int
    invoices_created: int
    skipped: int = Field(description="services with a period already invoiced")
    failed: int = Field(description="services that could not be invoiced")
    batches: int
    totals: dict[str, int] = Field(description="invoiced totals per ISO 4217 currency")
    passed_over: list[PassedServiceOut]
    duration_s: float

    @classmethod
    def of(cls, report: BillingRunReport) -> BillingRunOut:
        return cls(
            today=report.today,
            due_by=report.due_by,
            services_examined=report.services_examined,
            invoices_created=report.invoices_created,
            skipped=report.skipped,
            failed=report.failed,
            batches=report.batches,
            totals=dict(sorted(report.totals.items())),
            passed_over=[
                PassedServiceOut(service_id=p.service_id, reason=p.reason)
                for p in report.passed_over
            ],
            duration_s=round(report.duration_s, 3),
        )
