"""JWT issue and verification, with the algorithm pinned to the key and every claim checked.

HS256 tokens verify only with the shared secret and RS256/ES256 tokens only with a public
key of the same family, so a token signed with HMAC over a public key ("key confusion") or
with `alg: none` has no key to verify against and is refused.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt

from auth.keys import ASYMMETRIC_ALGORITHMS, PublicKey

HS256 = "HS256"
# A task token's claims (docs/security.md): the one task, and what it may do there.
TASK_CLAIM = "task"
TASK_SCOPES_CLAIM = "task_scopes"
TASK_TOKEN_SCOPES = ("read", "approve")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InvalidTokenError(Exception):
    """The token cannot be trusted; the message says why without echoing the token."""


@dataclass(frozen=True, slots=True)
class TokenConfig:
    secret: str | None
    issuer: str
    audience: str
    leeway_seconds: int = 30
    public_keys: tuple[PublicKey, ...] = field(default=())

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The algorithms this configuration can verify, HS256 first."""
        found = {key.algorithm for key in self.public_keys}
        return tuple([HS256] if self.secret else []) + tuple(
            a for a in ASYMMETRIC_ALGORITHMS if a in found
        )


@dataclass(frozen=True, slots=True)
class VerifiedClaims:
    subject: str
    roles: tuple[str, ...]
    name: str
    expires_at: float | None
    session_id: str | None
    raw: dict[str, Any]
    # Set on a task token: the task, and a non-empty subset of TASK_TOKEN_SCOPES.
    task_id: uuid.UUID | None = None
    task_scopes: tuple[str, ...] = ()


def issue_token(
    config: TokenConfig,
    *,
    subject: str,
    roles: list[str] | None = None,
    ttl_seconds: int = 3600,
    session_id: str | None = None,
    name: str | None = None,
    task: tuple[uuid.UUID, list[str]] | None = None,
) -> str:
    """An HS256 token signed with the shared secret (agentwire never holds private keys)."""
    if not config.secret:
        raise InvalidTokenError(
            "this server has no HS256 secret (it verifies RS256/ES256 tokens from "
            "AGENTWIRE_JWT_PUBLIC_KEYS); get tokens from your identity provider, "
            "or set AGENTWIRE_JWT_SECRET"
        )
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
    if task is not None:
        claims[TASK_CLAIM] = str(task[0])
        claims[TASK_SCOPES_CLAIM] = list(task[1])
    return jwt.encode(claims, config.secret, algorithm=HS256)


def _candidate_keys(config: TokenConfig, header: dict[str, Any]) -> list[Any]:
    """The keys that may verify a token with this header; refuses any other algorithm."""
    algorithm = header.get("alg")
    accepted = config.algorithms
    if not isinstance(algorithm, str) or algorithm not in accepted:
        shown = repr(algorithm)[:20]
        raise InvalidTokenError(
            f"the token's algorithm {shown} is not accepted; this server accepts "
            f"{', '.join(accepted) or 'no tokens (no key configured)'}"
        )
    if algorithm == HS256:
        return [config.secret]
    same_family = [k for k in config.public_keys if k.algorithm == algorithm]
    kid = header.get("kid")
    by_id = [k for k in same_family if kid is not None and k.key_id == kid]
    if by_id:
        return [k.key for k in by_id]
    if kid is not None and all(k.key_id is not None for k in same_family):
        raise InvalidTokenError("the token names a key id ('kid') this server does not know")
    return [k.key for k in same_family]


def _decode(config: TokenConfig, token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise InvalidTokenError("the token is malformed: expected a signed JWT") from error
    keys = _candidate_keys(config, header)
    last_error: jwt.PyJWTError | None = None
    for key in keys:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[header["alg"]],
                audience=config.audience,
                issuer=config.issuer,
                leeway=config.leeway_seconds,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
            return claims
        except jwt.InvalidSignatureError as error:
            # Several keys without ids (a PEM bundle): try the next one.
            last_error = error
    raise InvalidTokenError(
        "the token's signature does not verify with any configured key"
    ) from last_error


def verify_token(config: TokenConfig, token: str) -> VerifiedClaims:
    """The token's claims, or `InvalidTokenError` naming what is wrong."""
    try:
        claims = _decode(config, token)
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
    return _claims(claims)


def _claims(claims: dict[str, Any]) -> VerifiedClaims:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise InvalidTokenError("the token's 'sub' claim must be a non-empty string")
    if _CONTROL.search(subject):
        raise InvalidTokenError("the token's 'sub' claim contains control characters")
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidTokenError("the token's 'roles' claim must be a list of strings")
    name = claims.get("name", subject)
    if not isinstance(name, str) or not name or len(name) > 255 or _CONTROL.search(name):
        name = subject
    session_id = claims.get("sid")
    if session_id is not None and not isinstance(session_id, str):
        raise InvalidTokenError("the token's 'sid' claim must be a string")
    task_id, task_scopes = _task_claims(claims)
    return VerifiedClaims(
        subject=subject,
        roles=tuple(roles),
        name=name,
        expires_at=float(claims["exp"]),
        session_id=session_id,
        raw=claims,
        task_id=task_id,
        task_scopes=task_scopes,
    )


def _task_claims(claims: dict[str, Any]) -> tuple[uuid.UUID | None, tuple[str, ...]]:
    """A task token's task and scopes; a token with one claim and not the other is refused,
    so a malformed scope never widens into a full token."""
    raw_task, raw_scopes = claims.get(TASK_CLAIM), claims.get(TASK_SCOPES_CLAIM)
    if raw_task is None and raw_scopes is None:
        return None, ()
    try:
        task_id = uuid.UUID(str(raw_task))
    except ValueError as error:
        raise InvalidTokenError("the token's 'task' claim must be a task id") from error
    if (
        not isinstance(raw_scopes, list)
        or not raw_scopes
        or not all(s in TASK_TOKEN_SCOPES for s in raw_scopes)
    ):
        raise InvalidTokenError(
            "the token's 'task_scopes' claim must list some of " + ", ".join(TASK_TOKEN_SCOPES)
        )
    return task_id, tuple(dict.fromkeys(raw_scopes))
