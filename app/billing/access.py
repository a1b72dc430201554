"""Who may read which billing rows: one query filter for customers and staff alike.

Staff (and integrations) holding `billing:read` read everyone's rows; a signed-in customer reads
the rows of their own customer record, found through their account by a subquery, so listing
costs no extra round trip and no endpoint can forget the `WHERE customer_id = …`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select

from app.auth.errors import InsufficientScope
from app.auth.principal import Principal
from app.models.customer import Customer

READ_EVERYONE = "billing:read"
WRITE_EVERYONE = "billing:write"


@dataclass(frozen=True)
class BillingViewer:
    """`user_id` is None when the viewer reads everyone's rows."""

    user_id: uuid.UUID | None
    can_write: bool = False

    @property
    def is_staff_view(self) -> bool:
        return self.user_id is None

    def owns(self, customer_column: Any) -> ColumnElement[bool] | None:
        """The filter to add to a statement over rows with this customer column (None: all)."""
        if self.user_id is None:
            return None
        return own_rows(customer_column, user_id=self.user_id)


def own_rows(customer_column: Any, *, user_id: Any) -> ColumnElement[bool]:
    """Rows of the customer record of the account `user_id` (a value, or a `bindparam` for a
    statement built once and run for many viewers)."""
    own_customer = select(Customer.id).where(Customer.user_id == user_id)
    condition: ColumnElement[bool] = customer_column == own_customer.scalar_subquery()
    return condition


def viewer_for(principal: Principal) -> BillingViewer:
    if READ_EVERYONE in principal.scopes:
        return BillingViewer(user_id=None, can_write=WRITE_EVERYONE in principal.scopes)
    if principal.user is not None and "me" in principal.scopes:
        return BillingViewer(user_id=principal.user.id)
    raise InsufficientScope("Reading billing records needs `billing:read` or a customer account.")
