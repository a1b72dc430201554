"""Mounts every capability's router under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

from app.api_keys.router import router as api_keys_router
from app.auth.router import router as auth_router
from app.customers.admin_router import router as customers_admin_router
from app.customers.router import me_router as customers_me_router
from app.customers.router import router as customers_router
from app.mfa.router import router as mfa_router
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
