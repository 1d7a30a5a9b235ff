"""Operator actions on credentials: API keys and sessions, each audited.

Called by the `agentwire` CLI; the plain key and the session token are returned to the
caller once and never stored or logged.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.principal import KNOWN_SCOPES
from auth.tokens import TokenConfig, issue_token
from db.engine import write_session
from db.models import ApiKey, User
from db.repositories.api_keys import CreatedKey, find_key, keys_of_user, new_key, revoke_key
from db.repositories.audit import record_audit
from db.repositories.sessions import add_session, get_session, revoke_session
from db.repositories.users import get_user_by_subject, upsert_user

OPERATOR = "operator:cli"


class CredentialError(Exception):
    """The operator asked for something that cannot be done; the message says why."""


def parse_scopes(text: str) -> list[str]:
    """`tasks:read,tasks:write` → the scopes, each one known."""
    scopes = sorted({s.strip() for s in text.split(",") if s.strip()})
    unknown = [s for s in scopes if s not in KNOWN_SCOPES]
    if not scopes or unknown:
        raise CredentialError(
            f"unknown scope(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(sorted(KNOWN_SCOPES))}"
        )
    return scopes


async def _user(session: AsyncSession, subject: str) -> User:
    """The user, created without roles if new (an existing user keeps theirs)."""
    user = await get_user_by_subject(session, subject)
    if user is None:
        user = await upsert_user(session, subject=subject, display_name=subject, roles=[])
    return user


async def create_api_key(
    sessions: async_sessionmaker[AsyncSession],
    *,
    subject: str,
    name: str,
    scopes: list[str],
    roles: list[str] | None = None,
) -> CreatedKey:
    """A key whose scopes and roles are fixed here, by the operator, for its whole life."""
    roles = sorted(roles or [])
    async with write_session(sessions) as session:
        user = await _user(session, subject)
        created = new_key(session, user_id=user.id, name=name, scopes=scopes, roles=roles)
        record_audit(
            session,
            actor=OPERATOR,
            action="apikey.create",
            target=f"apikey:{created.row.id}",
            details={
                "user": subject,
                "name": name,
                "prefix": created.row.prefix,
                "scopes": scopes,
                "roles": roles,
            },
        )
    return created


async def revoke_api_key(sessions: async_sessionmaker[AsyncSession], id_or_prefix: str) -> ApiKey:
    async with write_session(sessions) as session:
        key = await find_key(session, id_or_prefix)
        if key is None:
            raise CredentialError(f"no single API key has the id or prefix {id_or_prefix!r}")
        if not await revoke_key(session, key):
            raise CredentialError(f"API key {key.prefix} was already revoked")
        record_audit(
            session,
            actor=OPERATOR,
            action="apikey.revoke",
            target=f"apikey:{key.id}",
            details={"prefix": key.prefix, "name": key.name},
        )
    return key


async def list_api_keys(
    sessions: async_sessionmaker[AsyncSession], subject: str
) -> Sequence[ApiKey]:
    async with sessions() as session:
        user = await get_user_by_subject(session, subject)
        return [] if user is None else await keys_of_user(session, user.id)


async def create_session_token(
    sessions: async_sessionmaker[AsyncSession],
    tokens: TokenConfig,
    *,
    subject: str,
    roles: list[str],
    ttl_seconds: int,
) -> tuple[uuid.UUID, str]:
    """A token whose `sid` names a new `api_sessions` row: revocable before it expires."""
    session_id = uuid.uuid4()
    token = issue_token(
        tokens,
        subject=subject,
        roles=roles,
        ttl_seconds=ttl_seconds,
        session_id=str(session_id),
    )
    async with write_session(sessions) as session:
        user = await upsert_user(session, subject=subject, display_name=subject, roles=roles)
        add_session(
            session,
            session_id=session_id,
            user_id=user.id,
            token=token,
            expires_at=datetime.now(UTC) + timedelta(seconds=ttl_seconds),
        )
        record_audit(
            session,
            actor=OPERATOR,
            action="session.create",
            target=f"session:{session_id}",
            details={"user": subject, "ttlSeconds": ttl_seconds},
        )
    return session_id, token


async def end_session(sessions: async_sessionmaker[AsyncSession], session_id: str) -> None:
    try:
        sid = uuid.UUID(session_id)
    except ValueError as error:
        raise CredentialError(f"{session_id!r} is not a session id (a UUID)") from error
    async with write_session(sessions) as session:
        row = await get_session(session, sid)
        if row is None:
            raise CredentialError(f"no session has the id {session_id}")
        if not await revoke_session(session, row):
            raise CredentialError(f"session {session_id} was already revoked")
        record_audit(
            session, actor=OPERATOR, action="session.revoke", target=f"session:{sid}", details={}
        )
