"""JWT issue and verification, with the algorithm pinned and every claim checked."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

HS256 = "HS256"


class InvalidTokenError(Exception):
    """The token cannot be trusted; the message says why without echoing the token."""


@dataclass(frozen=True, slots=True)
class TokenConfig:
    secret: str
    issuer: str
    audience: str
    leeway_seconds: int = 30


@dataclass(frozen=True, slots=True)
class VerifiedClaims:
    subject: str
    roles: tuple[str, ...]
    name: str
    expires_at: float | None
    session_id: str | None
    raw: dict[str, Any]


def issue_token(
    config: TokenConfig,
    *,
    subject: str,
    roles: list[str] | None = None,
    ttl_seconds: int = 3600,
    session_id: str | None = None,
    name: str | None = None,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "iss": config.issuer,
        "aud": config.audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "roles": roles or [],
    }
    if name:
        claims["name"] = name
    if session_id:
        claims["sid"] = session_id
    return jwt.encode(claims, config.secret, algorithm=HS256)


def verify_token(config: TokenConfig, token: str) -> VerifiedClaims:
    """The token's claims, or `InvalidTokenError` naming what is wrong."""
    try:
        claims = jwt.decode(
            token,
            config.secret,
            algorithms=[HS256],
            audience=config.audience,
            issuer=config.issuer,
            leeway=config.leeway_seconds,
            options={"require": ["exp", "sub", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise InvalidTokenError("the token has expired; get a new one") from error
    except jwt.ImmatureSignatureError as error:
        raise InvalidTokenError("the token is not valid yet (nbf/iat in the future)") from error
    except jwt.InvalidAudienceError as error:
        raise InvalidTokenError("the token was issued for another audience") from error
    except jwt.InvalidIssuerError as error:
        raise InvalidTokenError("the token was issued by an unknown issuer") from error
    except jwt.MissingRequiredClaimError as error:
        raise InvalidTokenError(f"the token lacks the {error.claim!r} claim") from error
    except jwt.PyJWTError as error:
        raise InvalidTokenError(
            "the token is malformed or its signature does not verify"
        ) from error
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise InvalidTokenError("the token's 'sub' claim must be a non-empty string")
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidTokenError("the token's 'roles' claim must be a list of strings")
    name = claims.get("name", subject)
    session_id = claims.get("sid")
    return VerifiedClaims(
        subject=subject,
        roles=tuple(roles),
        name=name if isinstance(name, str) else subject,
        expires_at=float(claims["exp"]),
        session_id=session_id if isinstance(session_id, str) else None,
        raw=claims,
    )
