"""Roles do not stick: a request's roles are its own credential's, over a live server.

An attacker who once held an admin token must not keep admin rights on a later
non-admin token of the same user, nor hand them to that user's API keys.
"""

from __future__ import annotations

import uuid
from typing import Any

from db.models import Task
from tests.integration.test_security_keys import agentwire
from tests.support.attacker import api_key, bearer, first_error, gql, rows_of
from tests.support.clients import Api, steps, wait
from tests.support.live import LiveServer
from tests.support.operations import operation

ME = operation("Me")
GET_TASK = operation("GetTask")
CANCEL_TASK = operation("CancelTask")


async def me(server: LiveServer, headers: dict[str, str]) -> dict[str, Any]:
    response = await gql(server, ME, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["data"]["me"]
    return {"roles": result["roles"], "isAdmin": result["isAdmin"]}


async def sees(server: LiveServer, headers: dict[str, str], task_id: str) -> bool:
    response = await gql(server, GET_TASK, {"id": task_id}, headers=headers)
    assert "errors" not in response.json(), response.text
    return response.json()["data"]["task"] is not None


async def someone_elses_task(server: LiveServer) -> str:
    """A task of another user, held at an approval so its row stays still."""
    bob = Api(server, server.token())
    task = await bob.submit("bob's own", context=steps(wait(10, approval=True)))
    await bob.wait_status(task["id"], "AWAITING_APPROVAL")
    return str(task["id"])


async def test_a_non_admin_token_after_an_admin_token_is_not_admin(server: LiveServer) -> None:
    # given: one subject with a plain token seen first, then an admin token
    subject = f"sticky-{uuid.uuid4().hex[:8]}"
    plain = bearer(server.token(subject))
    admin = bearer(server.token(subject, admin=True))
    bobs = await someone_elses_task(server)
    assert await me(server, plain) == {"roles": [], "isAdmin": False}
    assert await me(server, admin) == {"roles": ["admin"], "isAdmin": True}
    assert await sees(server, admin, bobs)
    # when the plain token comes back
    # then it carries its own roles, not the admin token's
    assert await me(server, plain) == {"roles": [], "isAdmin": False}
    assert not await sees(server, plain, bobs)
    # and the admin token is still admin (the cache is keyed by roles too)
    assert await me(server, admin) == {"roles": ["admin"], "isAdmin": True}


async def test_an_api_key_has_its_own_roles_whatever_token_was_seen_last(
    server: LiveServer,
) -> None:
    # given: a key made without a role, then an admin token of its user
    subject = f"keyholder-{uuid.uuid4().hex[:8]}"
    key = {"X-API-Key": await api_key(server, subject, ["tasks:read", "tasks:write"])}
    bobs = await someone_elses_task(server)
    before = [(t.status, t.version) for t in await rows_of(server, Task, id=uuid.UUID(bobs))]
    assert await me(server, bearer(server.token(subject, admin=True))) == {
        "roles": ["admin"],
        "isAdmin": True,
    }
    # when the key is used
    # then it is not admin: it neither sees nor cancels another user's task
    assert await me(server, key) == {"roles": [], "isAdmin": False}
    assert not await sees(server, key, bobs)
    refused = await gql(server, CANCEL_TASK, {"taskId": bobs}, headers=key)
    assert first_error(refused)[0] == "NOT_FOUND"
    after = [(t.status, t.version) for t in await rows_of(server, Task, id=uuid.UUID(bobs))]
    assert after == before


async def test_an_admin_key_made_by_the_operator_stays_admin(server: LiveServer) -> None:
    # given: `agentwire apikey create --admin`, then a plain token of the same user
    subject = f"opskey-{uuid.uuid4().hex[:8]}"
    code, plain_key, notes = await agentwire(
        server, "apikey", "create", "--user", subject, "--scopes", "tasks:read", "--admin"
    )
    assert code == 0, notes
    assert "with scopes tasks:read and the admin role" in notes
    bobs = await someone_elses_task(server)
    assert await me(server, bearer(server.token(subject))) == {"roles": [], "isAdmin": False}
    # then the key keeps the role the operator gave it
    key = {"X-API-Key": plain_key}
    assert await me(server, key) == {"roles": ["admin"], "isAdmin": True}
    assert await sees(server, key, bobs)
    code, listing, _ = await agentwire(server, "apikey", "list", "--user", subject)
    header, row = listing.splitlines()
    assert row[header.index("ROLES") :].startswith("admin")
