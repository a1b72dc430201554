"""Accounts: creating users and checking who they are."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.ext.asyncio import AsyncSession
from zxcvbn import zxcvbn

from app.auth.repository import UserRepository
from app.core.clock import Clock
from app.core.crypto import CryptoKit
from app.core.errors import Conflict, FieldError, InvalidInput
from app.models.user import StaffRole, User, UserKind

EMAIL_INDEX_CONTEXT = "users.email"
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 128
# zxcvbn scores 0..4; 3 means "safely unguessable: moderate protection from offline attacks".
PASSWORD_MIN_SCORE = 3


class EmailTaken(Conflict):
    code = "email_taken"
    title = "Email already registered"


def normalize_email(raw: str, *, field: str = "email") -> str:
    """Syntax only (no DNS: registration must not depend on the network)."""
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidInput(
            [FieldError(field=field, code="email_invalid", message=str(exc))]
        ) from exc


def email_index(crypto: CryptoKit, email: str) -> str:
    return crypto.blind_index.digest(email, context=EMAIL_INDEX_CONTEXT)


async def create_staff_user(
    *,
    session: AsyncSession,
    crypto: CryptoKit,
    clock: Clock,
    email: str,
    password_hash: str,
    role: StaffRole,
    display_name: str | None = None,
) -> User:
    users = UserRepository(session)
    normalized = normalize_email(email)
    index = email_index(crypto, normalized)
    if await users.get_by_email_index(index) is not None:
        raise EmailTaken("An account with this email already exists.")
    now = clock.now()
    user = User(
        email=normalized,
        email_index=index,
        password_hash=password_hash,
        kind=UserKind.STAFF.value,
        role=role.value,
        display_name=display_name,
        is_active=True,
        email_verified_at=now,
        created_at=now,
        updated_at=now,
    )
    return await users.add(user)


def validate_new_password(
    password: str, *, user_inputs: list[str], field: str = "password"
) -> None:
    """Length 12-128, and not guessable, judged with the user's own email and name as context."""
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        raise InvalidInput(
            [
                FieldError(
                    field=field,
                    code="password_length",
                    message=f"Use {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters.",
                )
            ]
        )
    context = [part for value in user_inputs for part in _context_words(value)]
    verdict = zxcvbn(password, user_inputs=context)
    if verdict["score"] < PASSWORD_MIN_SCORE:
        feedback = verdict.get("feedback", {})
        hint = feedback.get("warning") or "This password is too easy to guess."
        suggestions = " ".join(feedback.get("suggestions", []))
        raise InvalidInput(
            [
                FieldError(
                    field=field,
                    code="password_too_weak",
                    message=f"{hint} {suggestions}".strip(),
                )
            ]
        )


def _context_words(value: str) -> list[str]:
    """An email and a name, split so that 'jane.doe@x.com' also rules out 'jane' and 'doe'."""
    if not value:
        return []
    words = [value.lower()]
    for separator in ("@", ".", "-", "_", "+", " "):
        value = value.replace(separator, " ")
    words.extend(part.lower() for part in value.split() if len(part) >= 3)
    return words
