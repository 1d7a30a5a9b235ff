"""Turn a credential (a bearer JWT or an API key) into a `Principal`.

Every transport calls one of the `from_*` entry points, so a credential accepted on one
is accepted on all. A JWT user is created on first sight; a token with a `sid` claim is
checked against `api_sessions`; an API key is looked up by its hash.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.principal import DECIDE_SCOPE, Principal
from auth.request_info import RequestInfo, current_request
from auth.tokens import InvalidTokenError, TokenConfig, VerifiedClaims, verify_token
from db.engine import write_session
from db.models import utcnow
from db.repositories.api_keys import KEY_PREFIX, find_active_key, touch_key
from db.repositories.sessions import get_session, session_problem
from db.repositories.users import get_user_by_subject, upsert_user

API_KEY_HEADER = "x-api-key"
MAX_API_KEY_CHARS = 128
# last_used_at is a hint, not a log: one write a minute per key is enough.
TOUCH_INTERVAL = timedelta(minutes=1)


TOKEN_HINT = "send a valid token: 'Authorization: Bearer <token>'"
QUERY_TOKEN_HINT = (
    "send your token in the 'Authorization: Bearer' header, or create a token for this one "
    "task (Mutation.createTaskToken) and pass that as ?access_token="
)
# What a task token's scopes grant, in the principal's scope words (auth/principal.py).
_TASK_TOKEN_GRANTS = {"read": "tasks:read", "approve": DECIDE_SCOPE}
API_KEY_HINT = (
    "send an active API key ('X-API-Key: <key>'): `agentwire apikey list --user <subject>` "
    "shows which keys are revoked, `agentwire apikey create` makes a new one"
)


class AuthenticationError(Exception):
    """No credential, or one that does not verify. The message is safe to show; the hint
    speaks of the kind of credential that failed."""

    def __init__(self, message: str, *, hint: str = TOKEN_HINT) -> None:
        super().__init__(message)
        self.hint = hint


class AuthThrottledError(AuthenticationError):
    """Too many failed authentications from one client: refused before any lookup."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many failed authentications from this address; retry after {retry_after} seconds",
            hint="check the credential you send, then wait before retrying",
        )
        self.retry_after = retry_after


class FailureThrottle(Protocol):
    """Counts failed authentications per client address (resolvers/limits.py)."""

    async def retry_after(self, client: str) -> int | None:
        """Seconds to wait when `client` is over its limit, else None; counts nothing."""

    async def failed(self, client: str) -> None:
        """Count one failed authentication of `client`."""


@dataclass(frozen=True, slots=True)
class AuthFailure:
    """An authentication that failed, for the audit log; never holds the credential."""

    reason: str
    credential: str
    request: RequestInfo | None


FailureHook = Callable[[AuthFailure], None]


def bearer_token(header_value: str | None) -> str | None:
    if not header_value:
        return None
    scheme, _, token = header_value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


# Subjects remembered (subject, roles, name -> user id) so most requests skip the upsert.
KNOWN_USERS_CACHED = 10_000


class Authenticator:
    """Verifies credentials; remembers subject → user id so a request costs no write."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        tokens: TokenConfig,
        on_failure: FailureHook | None = None,
        throttle: FailureThrottle | None = None,
    ) -> None:
        self._sessions = sessions
        self._tokens = tokens
        self._on_failure = on_failure
        self._throttle = throttle
        self._known: dict[tuple[str, tuple[str, ...], str], uuid.UUID] = {}

    async def from_http_headers(self, headers: Mapping[str, str]) -> Principal:
        """The caller of an HTTP request or WebSocket handshake, from its headers."""
        api_key = headers.get(API_KEY_HEADER)
        if api_key is not None:
            return await self._guarded("api_key", self._from_api_key(api_key))
        return await self.from_authorization(headers.get("authorization"))

    async def from_connection_params(self, params: Mapping[str, Any]) -> Principal:
        """The caller of a graphql-transport-ws connection, from its `connection_init` payload."""
        api_key = params.get("apiKey")
        if api_key is not None:
            if not isinstance(api_key, str):
                self._fail("api_key", "apiKey must be a string")
            return await self._guarded("api_key", self._from_api_key(api_key))
        authorization = params.get("authorization") or params.get("Authorization")
        if not isinstance(authorization, str):
            self._fail(
                "none",
                "connection_init must carry {'authorization': 'Bearer <token>'} "
                "or {'apiKey': '<key>'}",
            )
        return await self.from_authorization(authorization)

    async def from_authorization(self, header_value: str | None) -> Principal:
        if not header_value:
            self._fail(
                "none",
                "authentication required: send 'Authorization: Bearer <token>' "
                "or 'X-API-Key: <key>'",
            )
        token = bearer_token(header_value)
        if token is None:
            self._fail("jwt", "the Authorization header must be 'Bearer <token>'")
        return await self.from_token(token)

    async def from_token(self, token: str) -> Principal:
        return await self._guarded("jwt", self._from_token(token))

    async def from_query_token(self, token: str) -> Principal:
        """The caller of a stream opened with `?access_token=` (a browser's EventSource
        cannot send headers). Only a task token is accepted there: a URL ends up in access
        logs, proxies and browser history, and a task token leaks one task for an hour at
        most, where a full token would leak the whole account."""
        return await self._guarded("jwt", self._from_query_token(token))

    async def _from_query_token(self, token: str) -> Principal:
        principal = await self._from_token(token)
        if principal.task_scope is None:
            raise AuthenticationError(
                "a full user token may not be passed in the URL (?access_token=): URLs are "
                "written to access logs, proxies and browser history; only a task token "
                "(Mutation.createTaskToken) is accepted there",
                hint=QUERY_TOKEN_HINT,
            )
        return principal

    async def from_api_key(self, plain: str) -> Principal:
        return await self._guarded("api_key", self._from_api_key(plain))

    async def _guarded(self, credential: str, attempt: Coroutine[Any, Any, Principal]) -> Principal:
        """Run one attempt; report a failure, note a success on the current request.

        A client over its limit of failures is refused before the attempt runs, so a
        flood of guessed keys or forged tokens costs no database work.
        """
        info = current_request()
        client = (info.client if info else "") or "unknown"
        if self._throttle is not None:
            wait = await self._throttle.retry_after(client)
            if wait is not None:
                attempt.close()
                raise AuthThrottledError(wait)
        try:
            principal = await attempt
        except AuthenticationError as error:
            self._report(credential, str(error))
            if self._throttle is not None:
                await self._throttle.failed(client)
            raise
        if info is not None:
            info.principal = principal
        return principal

    def _fail(self, credential: str, message: str) -> NoReturn:
        self._report(credential, message)
        raise AuthenticationError(message)

    def _report(self, credential: str, reason: str) -> None:
        if self._on_failure is not None:
            self._on_failure(AuthFailure(reason, credential, current_request()))

    async def _from_token(self, token: str) -> Principal:
        try:
            claims = verify_token(self._tokens, token)
        except InvalidTokenError as error:
            raise AuthenticationError(str(error)) from error
        key = (claims.subject, claims.roles, claims.name)
        user_id = self._known.get(key)
        if claims.task_id is not None:
            return await self._task_principal(claims, user_id)
        if user_id is None:
            async with write_session(self._sessions) as session:
                user = await upsert_user(
                    session,
                    subject=claims.subject,
                    display_name=claims.name,
                    roles=list(claims.roles),
                )
                user_id = user.id
            if len(self._known) >= KNOWN_USERS_CACHED:
                # Forget the oldest entry: a flood of distinct subjects must not grow memory.
                del self._known[next(iter(self._known))]
            self._known[key] = user_id
        if claims.session_id is not None:
            await self._check_session(claims.session_id, user_id)
        return Principal(
            user_id=user_id,
            subject=claims.subject,
            roles=claims.roles,
            expires_at=claims.expires_at,
            session_id=claims.session_id,
        )

    async def _task_principal(self, claims: VerifiedClaims, user_id: uuid.UUID | None) -> Principal:
        """A task token: its user is looked up, never written (the roles it carries are its
        creator's at the time, not a new sign-in), and it grants only its scopes."""
        assert claims.task_id is not None
        if user_id is None:
            async with self._sessions() as session:
                user = await get_user_by_subject(session, claims.subject)
            if user is None:
                raise AuthenticationError("the task token's user is unknown")
            user_id = user.id
        if claims.session_id is not None:
            await self._check_session(claims.session_id, user_id)
        return Principal(
            user_id=user_id,
            subject=claims.subject,
            roles=claims.roles,
            scopes=frozenset(_TASK_TOKEN_GRANTS[s] for s in claims.task_scopes),
            via="task_token",
            expires_at=claims.expires_at,
            session_id=claims.session_id,
            task_scope=claims.task_id,
        )

    async def _check_session(self, session_id: str, user_id: uuid.UUID) -> None:
        """Read on every use, so `agentwire revoke-session` takes effect at once."""
        try:
            sid = uuid.UUID(session_id)
        except ValueError as error:
            raise AuthenticationError("the token's session is unknown; sign in again") from error
        async with self._sessions() as session:
            problem = session_problem(await get_session(session, sid), user_id=user_id)
        if problem is not None:
            raise AuthenticationError(problem)

    async def _from_api_key(self, plain: str) -> Principal:
        plain = plain.strip()
        if not plain.startswith(f"{KEY_PREFIX}_") or len(plain) > MAX_API_KEY_CHARS:
            raise AuthenticationError(
                "the API key is malformed: expected 'aw_<prefix>_<secret>'", hint=API_KEY_HINT
            )
        # Looked up in a read: an unknown key must not cost a write transaction.
        async with self._sessions() as session:
            found = await find_active_key(session, plain)
        if found is None:
            raise AuthenticationError("the API key is unknown or revoked", hint=API_KEY_HINT)
        key, user = found
        now = utcnow()
        if key.last_used_at is None or now - key.last_used_at >= TOUCH_INTERVAL:
            async with write_session(self._sessions) as session:
                await touch_key(session, key.id, now)
        return Principal(
            user_id=user.id,
            subject=user.subject,
            # The key's own roles, set by the operator: never its user's row, which records
            # the last token seen and so would let any admin token make every key admin.
            roles=tuple(str(r) for r in key.roles),
            scopes=frozenset(str(s) for s in key.scopes),
            via="api_key",
            key_prefix=key.prefix,
            key_id=key.id,
        )
