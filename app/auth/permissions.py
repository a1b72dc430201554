"""The permission matrix: one place that says who may do what.

Principals carry scopes. Staff get the scopes of their role; customers get `me` (their own
data, enforced by query filters); API keys get exactly the scopes an admin gave them.
New capabilities add their scopes here and to the roles that need them.
"""

from __future__ import annotations

from types import MappingProxyType

from app.models.user import StaffRole

# scope -> what it allows (shown in OpenAPI's OAuth2 scheme and the README).
SCOPES: MappingProxyType[str, str] = MappingProxyType(
    {
        "me": "Read and change your own account, sessions and security settings",
        "users:read": "Read any user's account and security events",
        "users:write": "Disable or re-enable users and end their sessions",
        "api_keys:manage": "Create, list and revoke API keys",
        "customers:read": "Find and read customer records (every opening is logged)",
        "customers:write": "Create prospects, change, suspend, reactivate and close customers",
        "privacy:manage": "Review erasure requests and read the staff data-access log",
        "catalog:write": "Manage products, prices and tax rates",
        "billing:read": "Read every customer's orders, services, invoices, payments and credit",
        "billing:write": (
            "Draft, issue, void and write off invoices, record payments, issue credit notes, "
            "manage services and disputes, run billing"
        ),
        "fraud:read": "Read fraud checks, the review queue, rules, lists and statistics",
        "fraud:write": (
            "Decide reviews, label outcomes, tune rules, manage blocklists and network lists, "
            "set credit limits"
        ),
    }
)

# Scopes an API key may hold (integrations act on data, never as a person).
API_KEY_SCOPES = frozenset(
    {"users:read", "customers:read", "customers:write", "billing:read", "billing:write"}
)

CUSTOMER_SCOPES = frozenset({"me"})

ROLE_SCOPES: MappingProxyType[StaffRole, frozenset[str]] = MappingProxyType(
    {
        StaffRole.ADMIN: frozenset(SCOPES),
        StaffRole.BILLING: frozenset(
            {
                "me",
                "users:read",
                "customers:read",
                "customers:write",
                "catalog:write",
                "billing:read",
                "billing:write",
            }
        ),
        StaffRole.SUPPORT: frozenset({"me", "users:read", "customers:read", "billing:read"}),
        StaffRole.FRAUD_ANALYST: frozenset(
            {"me", "users:read", "customers:read", "billing:read", "fraud:read", "fraud:write"}
        ),
    }
)


def scopes_for(*, kind: str, role: str | None) -> frozenset[str]:
    if kind == "staff" and role is not None:
        return ROLE_SCOPES.get(StaffRole(role), frozenset())
    return CUSTOMER_SCOPES
