"""Turn a credential (a bearer JWT) into a `Principal`, creating the user on first sight."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.principal import Principal
from auth.tokens import InvalidTokenError, TokenConfig, verify_token
from db.repositories.users import upsert_user


class AuthenticationError(Exception):
    """No credential, or one that does not verify. The message is safe to show."""


def bearer_token(header_value: str | None) -> str | None:
    if not header_value:
        return None
    scheme, _, token = header_value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class Authenticator:
    """Verifies credentials; remembers subject → user id so a request costs no write."""

    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], tokens: TokenConfig) -> None:
        self._sessions = sessions
        self._tokens = tokens
        self._known: dict[tuple[str, tuple[str, ...], str], uuid.UUID] = {}

    async def from_http_headers(self, headers: Mapping[str, str]) -> Principal:
        """The caller of an HTTP request or WebSocket handshake, from its headers."""
        return await self.from_authorization(headers.get("authorization"))

    async def from_connection_params(self, params: Mapping[str, Any]) -> Principal:
        """The caller of a graphql-transport-ws connection, from its `connection_init` payload."""
        authorization = params.get("authorization") or params.get("Authorization")
        if not isinstance(authorization, str):
            raise AuthenticationError(
                "connection_init must carry {'authorization': 'Bearer <token>'}"
            )
        return await self.from_authorization(authorization)

    async def from_authorization(self, header_value: str | None) -> Principal:
        if not header_value:
            raise AuthenticationError(
                "authentication required: send 'Authorization: Bearer <token>'"
            )
        token = bearer_token(header_value)
        if token is None:
            raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
        return await self.from_token(token)

    async def from_token(self, token: str) -> Principal:
        try:
            claims = verify_token(self._tokens, token)
        except InvalidTokenError as error:
            raise AuthenticationError(str(error)) from error
        key = (claims.subject, claims.roles, claims.name)
        user_id = self._known.get(key)
        if user_id is None:
            async with self._sessions() as session, session.begin():
                user = await upsert_user(
                    session,
                    subject=claims.subject,
                    display_name=claims.name,
                    roles=list(claims.roles),
                )
                user_id = user.id
            self._known[key] = user_id
        return Principal(
            user_id=user_id,
            subject=claims.subject,
            roles=claims.roles,
            expires_at=claims.expires_at,
            session_id=claims.session_id,
        )
