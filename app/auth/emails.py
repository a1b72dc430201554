"""The account mails (P2, P11): single-use links for email verification and password reset,
and the notice that a password changed. Each is queued in the caller's transaction.

Tokens are random (256 bits), stored only as their SHA-256, and travel in the URL fragment of
a link into the SPA (`…/verify-email#token=…`), so they never reach a server log.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.repository import OneTimeTokenRepository
from app.core.config import Settings
from app.core.security import new_token, token_digest
from app.models.security import OneTimeToken, TokenPurpose
from app.models.user import User
from app.notifications.service import enqueue_email
from app.notifications.templates import EmailTemplate

VERIFY_EMAIL_LIFETIME = timedelta(hours=48)
PASSWORD_RESET_LIFETIME = timedelta(minutes=30)

# Routes of the SPA that read the token from the fragment and call the API with it.
VERIFY_EMAIL_PATH = "/verify-email"
RESET_PASSWORD_PATH = "/reset-password"  # noqa: S105 - a path, not a secret
FORGOT_PASSWORD_PATH = "/forgot-password"  # noqa: S105


def app_link(settings: Settings, path: str, *, token: str | None = None) -> str:
    link = settings.public_app_url.rstrip("/") + path
    return f"{link}#token={token}" if token else link


def _greeting_name(user: User) -> str:
    return user.display_name or "there"


async def issue_token(
    session: AsyncSession,
    *,
    user: User,
    purpose: TokenPurpose,
    lifetime: timedelta,
    now: datetime,
) -> str:
    secret = new_token(32)
    await OneTimeTokenRepository(session).add(
        OneTimeToken(
            user_id=user.id,
            purpose=purpose.value,
            token_hash=token_digest(secret),
            created_at=now,
            expires_at=now + lifetime,
            # The link is for this address: it stops working if the address changes.
            data={"email_index": user.email_index},
        )
    )
    return secret


async def send_verification(
    session: AsyncSession, *, settings: Settings, user: User, now: datetime
) -> None:
    """A fresh verification link (valid 48 h); earlier open ones stop working."""
    await OneTimeTokenRepository(session).invalidate_open(
        user.id, purpose=TokenPurpose.VERIFY_EMAIL.value, at=now
    )
    token = await issue_token(
        session,
        user=user,
        purpose=TokenPurpose.VERIFY_EMAIL,
        lifetime=VERIFY_EMAIL_LIFETIME,
        now=now,
    )
    await enqueue_email(
        session,
        template=EmailTemplate.VERIFY_EMAIL,
        recipient=user.email,
        payload={
            "name": _greeting_name(user),
            "link": app_link(settings, VERIFY_EMAIL_PATH, token=token),
            "expires_in_hours": int(VERIFY_EMAIL_LIFETIME.total_seconds() // 3600),
        },
        now=now,
    )


async def send_password_reset(
    session: AsyncSession, *, settings: Settings, user: User, now: datetime
) -> None:
    """A reset link (valid 30 min). Earlier links stay valid until one of them is used."""
    token = await issue_token(
        session,
        user=user,
        purpose=TokenPurpose.PASSWORD_RESET,
        lifetime=PASSWORD_RESET_LIFETIME,
        now=now,
    )
    await enqueue_email(
        session,
        template=EmailTemplate.PASSWORD_RESET,
        recipient=user.email,
        payload={
            "name": _greeting_name(user),
            "link": app_link(settings, RESET_PASSWORD_PATH, token=token),
            "expires_in_minutes": int(PASSWORD_RESET_LIFETIME.total_seconds() // 60),
        },
        now=now,
    )


async def send_password_changed(
    session: AsyncSession, *, settings: Settings, user: User, now: datetime, how: str
) -> None:
    """Tell the owner, so a change they did not make does not go unnoticed. `how` is
    "changed" (by the signed-in user) or "reset" (through an emailed link)."""
    await enqueue_email(
        session,
        template=EmailTemplate.PASSWORD_CHANGED,
        recipient=user.email,
        payload={
            "name": _greeting_name(user),
            "how": how,
            "changed_at": now.strftime("%d %B %Y at %H:%M UTC"),
            "help_link": app_link(settings, FORGOT_PASSWORD_PATH),
        },
        now=now,
    )
