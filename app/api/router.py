"""Mounts every capability's router under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

from app.api_keys.router import router as api_keys_router
from app.auth.router import router as auth_router
from app.billing.router import router as invoices_router
from app.billing.run_router import router as billing_runs_router
from app.catalog.router import products_router, tax_rates_router
from app.customers.admin_router import router as customers_admin_router
from app.customers.router import me_router as customers_me_router
from app.customers.router import router as customers_router
from app.hosting.router import router as services_router
from app.mfa.router import router as mfa_router
from app.orders.router import router as orders_router
from app.payments.router import router as payments_router
from app.privacy.router import router as privacy_router
from app.security_events.router import router as security_events_router
from app.users.router import router as users_router

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(auth_router)
api_router.include_router(mfa_router)
api_router.include_router(api_keys_router)
api_router.include_router(users_router)
api_router.include_router(security_events_router)
api_router.include_router(privacy_router)
api_router.include_router(customers_me_router)
api_router.include_router(customers_router)
api_router.include_router(customers_admin_router)
api_router.include_router(products_router)
api_router.include_router(tax_rates_router)
api_router.include_router(invoices_router)
api_router.include_router(billing_runs_router)
api_router.include_router(payments_router)
api_router.include_router(orders_router)
api_router.include_router(services_router)
