"""Authentication as an attacker tries it: forged tokens, revoked sessions and API keys, scopes."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import jwt
import pytest
from sqlalchemy import select

from auth.credentials import create_session_token, end_session, revoke_api_key
from auth.tokens import issue_token
from db.models import ApiKey, User
from server.app import token_config
from tests.support.attacker import (
    api_key,
    audit_rows,
    bearer,
    first_error,
    gql,
    rows_of,
    wait_for_audit,
    ws_handshake_code,
)
from tests.support.clients import Api, note, steps
from tests.support.live import TEST_JWT_SECRET, LiveServer

ME = "query { me { subject } }"
SUBMIT = 'mutation { submitTask(input: {task: "t"}) { id status } }'


def forged(server: LiveServer, **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": f"forger-{uuid.uuid4().hex[:8]}",
        "iss": server.settings.jwt_issuer,
        "aud": server.settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    claims.update(overrides)
    return jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256")


def tampered(server: LiveServer) -> str:
    header, _, signature = server.token("victim").split(".")
    other = forged(server, sub="victim", roles=["admin"]).split(".")[1]
    return f"{header}.{other}.{signature}"


def alg_none(server: LiveServer) -> str:
    header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    payload = forged(server, roles=["admin"]).split(".")[1]
    return f"{header}.{payload}."


BAD_TOKENS = {
    "expired": (
        lambda s: forged(s, exp=int(time.time()) - 120),
        "the token has expired; get a new one",
    ),
    "not yet valid": (
        lambda s: forged(s, nbf=int(time.time()) + 600),
        "the token is not valid yet (nbf/iat in the future)",
    ),
    "wrong issuer": (
        lambda s: forged(s, iss="evil"),
        "the token was issued by an unknown issuer",
    ),
    "wrong audience": (
        lambda s: forged(s, aud="other"),
        "the token was issued for another audience",
    ),
    "tampered": (
        tampered,
        "the token's signature does not verify with any configured key",
    ),
    "alg none": (
        alg_none,
        "the token's algorithm 'none' is not accepted; this server accepts HS256",
    ),
}


async def test_bad_tokens_are_refused_over_http_and_audited(make_server: Any) -> None:
    # A dedicated server: failures are audited at most 30 a minute per client address.
    async with make_server() as server:
        for make, message in BAD_TOKENS.values():
            request_id = f"forged-{uuid.uuid4().hex[:12]}"
            # when
            response = await gql(
                server, ME, headers={**bearer(make(server)), "X-Request-ID": request_id}
            )
            # then
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == 'Bearer realm="agentwire"'
            assert first_error(response) == ("UNAUTHENTICATED", message)
            [entry] = await wait_for_audit(server, request_id=request_id)
            assert (entry.actor, entry.action, entry.target) == (
                "anonymous",
                "auth.failed",
                "route:POST /graphql",
            )
            assert entry.details == {
                "reason": message,
                "credential": "jwt",
                "client": "127.0.0.1",
            }
        # and no user was created for any forged subject
        assert await rows_of(server, User) == []


async def test_a_flood_of_bad_credentials_is_audited_at_a_bounded_rate(make_server: Any) -> None:
    async with make_server() as server:
        for _ in range(35):
            response = await gql(server, ME, headers={"X-API-Key": "aw_bogus_key"})
            assert response.status_code == 401
        rows = await wait_for_audit(server, count=30, action="auth.failed")
        await asyncio.sleep(0.3)
        assert len(await audit_rows(server, action="auth.failed")) == 30
        assert rows[0].details["reason"] == "the API key is unknown or revoked"


@pytest.mark.parametrize("case", list(BAD_TOKENS))
async def test_bad_token_is_refused_on_the_websocket(server: LiveServer, case: str) -> None:
    make, _ = BAD_TOKENS[case]
    code = await ws_handshake_code({"authorization": f"Bearer {make(server)}"}, server)
    assert code == 4403


async def test_missing_credentials_are_refused_with_what_to_send(server: LiveServer) -> None:
    response = await gql(server, ME)
    assert response.status_code == 401
    assert first_error(response) == (
        "UNAUTHENTICATED",
        "authentication required: send 'Authorization: Bearer <token>' or 'X-API-Key: <key>'",
    )
    assert await ws_handshake_code({}, server) == 4403


async def test_revoked_session_token_stops_working(server: LiveServer) -> None:
    # given: a token made like `agentwire token --session`
    assert server.app is not None
    sessions = server.app.state.agentwire.services.sessions
    user = f"session-{uuid.uuid4().hex[:8]}"
    sid, token = await create_session_token(
        sessions, token_config(server.settings), subject=user, roles=[], ttl_seconds=600
    )
    assert (await gql(server, ME, headers=bearer(token))).json() == {
        "data": {"me": {"subject": user}}
    }
    assert await ws_handshake_code({"authorization": f"Bearer {token}"}, server) is None
    # when
    await end_session(sessions, str(sid))
    # then
    response = await gql(server, ME, headers=bearer(token))
    assert response.status_code == 401
    assert first_error(response) == (
        "UNAUTHENTICATED",
        "the token's session was revoked; sign in again",
    )
    assert await ws_handshake_code({"authorization": f"Bearer {token}"}, server) == 4403
    [revoked] = await audit_rows(server, action="session.revoke", target=f"session:{sid}")
    assert revoked.actor == "operator:cli"


async def test_token_naming_an_unknown_session_is_refused(server: LiveServer) -> None:
    token = issue_token(token_config(server.settings), subject="x", session_id=str(uuid.uuid4()))
    response = await gql(server, ME, headers=bearer(token))
    assert first_error(response) == (
        "UNAUTHENTICATED",
        "the token's session is unknown; sign in again",
    )


async def test_api_key_authenticates_on_http_and_websocket(server: LiveServer) -> None:
    user = f"system-{uuid.uuid4().hex[:8]}"
    key = await api_key(server, user, ["tasks:read", "tasks:write"])
    response = await gql(server, ME, headers={"X-API-Key": key})
    assert response.json() == {"data": {"me": {"subject": user}}}
    submitted = await gql(server, SUBMIT, headers={"X-API-Key": key})
    assert submitted.json()["data"]["submitTask"]["status"] in ("PENDING", "RUNNING")
    assert await ws_handshake_code({"apiKey": key}, server) is None
    created = await audit_rows(server, action="apikey.create", actor="operator:cli")
    assert [e.details["scopes"] for e in created if e.details["user"] == user] == [
        ["tasks:read", "tasks:write"]
    ]


async def test_api_key_records_its_last_use_and_only_its_hash(server: LiveServer) -> None:
    user = f"system-{uuid.uuid4().hex[:8]}"
    key = await api_key(server, user, ["tasks:read"])
    prefix = key.split("_")[1]
    assert server.app is not None
    sessions = server.app.state.agentwire.services.sessions
    async with sessions() as session:
        row = (await session.execute(select(ApiKey).where(ApiKey.prefix == prefix))).scalar_one()
    assert row.last_used_at is None
    assert key not in (row.key_hash, row.prefix, row.name)
    await gql(server, ME, headers={"X-API-Key": key})
    async with sessions() as session:
        used = (await session.execute(select(ApiKey).where(ApiKey.prefix == prefix))).scalar_one()
    assert used.last_used_at is not None


async def test_revoked_api_key_is_refused_everywhere(server: LiveServer) -> None:
    user = f"system-{uuid.uuid4().hex[:8]}"
    key = await api_key(server, user, ["tasks:read", "tasks:write"])
    assert server.app is not None
    revoked = await revoke_api_key(server.app.state.agentwire.services.sessions, key.split("_")[1])
    response = await gql(server, ME, headers={"X-API-Key": key})
    assert response.status_code == 401
    assert first_error(response) == ("UNAUTHENTICATED", "the API key is unknown or revoked")
    assert await ws_handshake_code({"apiKey": key}, server) == 4403
    [entry] = await audit_rows(server, action="apikey.revoke", target=f"apikey:{revoked.id}")
    assert entry.details == {"prefix": revoked.prefix, "name": "test"}


async def test_read_only_key_cannot_write_and_nothing_changes(server: LiveServer) -> None:
    # given: a task awaiting approval, and a read-only key of the same user
    user = f"owner-{uuid.uuid4().hex[:8]}"
    owner = Api(server, server.token(user))
    task = await owner.submit("gated", context=steps(note("a", 1, approval=True)))
    waiting = await owner.wait_status(task["id"], "AWAITING_APPROVAL")
    approval_id = waiting["pendingApproval"]["id"]
    key = await api_key(server, user, ["tasks:read"])
    headers = {"X-API-Key": key}
    # when: every write
    attempts = {
        "submitTask": SUBMIT,
        "approve": f'mutation {{ approve(input: {{taskId: "{task["id"]}", '
        f'approvalId: "{approval_id}", approved: true}}) {{ id }} }}',
        "undo": f'mutation {{ undo(taskId: "{task["id"]}") {{ id }} }}',
        "cancelTask": f'mutation {{ cancelTask(taskId: "{task["id"]}") {{ id }} }}',
    }
    for query in attempts.values():
        response = await gql(server, query, headers=headers)
        # then: each is FORBIDDEN, naming the scope
        assert first_error(response) == (
            "FORBIDDEN",
            "this credential lacks the 'tasks:write' scope",
        )
    # and reading still works, and nothing changed
    read = await gql(server, f'{{ task(id: "{task["id"]}") {{ status }} }}', headers=headers)
    assert read.json() == {"data": {"task": {"status": "AWAITING_APPROVAL"}}}
    listed = await owner.call("ListTasks")
    assert listed["tasks"]["totalCount"] == 1
    denied = await wait_for_audit(server, count=4, action="access.denied", actor=f"user:{user}")
    assert {d.details["attempted"] for d in denied} == {"tasks:write"}
    assert denied[0].details["apiKey"] == key.split("_")[1]
