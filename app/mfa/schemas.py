"""Request and response bodies for second-factor authentication."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, model_validator

from app.auth.schemas import Password

# Six digits; the space authenticator apps show in the middle is allowed.
TotpCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=6, max_length=16, pattern=r"^[0-9 ]+$"),
]
# A TOTP code or a recovery code (`xxxx-xxxx-xxxx`).
AnyCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
RecoveryCodeInput = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
]
Challenge = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ReauthRequest(BaseModel):
    password: Password = Field(description="the current password (re-authentication)")


class TotpEnrollResponse(BaseModel):
    secret: str = Field(description="base32 secret, for manual entry")
    otpauth_uri: str = Field(description="otpauth://totp/… for authenticator apps")
    qr_svg: str = Field(description="the otpauth URI as a QR code, an SVG document")


class TotpConfirmRequest(BaseModel):
    code: TotpCode


class RecoveryCodes(BaseModel):
    recovery_codes: list[str] = Field(
        description="single-use codes, shown this once; each replaces a code from the app"
    )


class TotpConfirmResponse(RecoveryCodes):
    enabled_at: datetime


class SecondFactorReauthRequest(BaseModel):
    password: Password
    code: AnyCode = Field(description="a code from the authenticator app, or a recovery code")


class MfaStatusResponse(BaseModel):
    enabled: bool
    enabled_at: datetime | None
    pending: bool = Field(description="an authenticator was enrolled but not yet confirmed")
    recovery_codes_remaining: int


class MfaLoginRequest(BaseModel):
    """Exactly one of `code` and `recovery_code`."""

    challenge: Challenge = Field(description="`mfa_challenge` from /auth/login or /auth/token")
    code: TotpCode | None = None
    recovery_code: RecoveryCodeInput | None = None

    @model_validator(mode="after")
    def _one_factor(self) -> MfaLoginRequest:
        if (self.code is None) == (self.recovery_code is None):
            raise ValueError("give exactly one of code and recovery_code")
        return self
