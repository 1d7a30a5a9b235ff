"""`GET /api/agent/history`: filters, paging, bounds and who sees what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.clients import Api, note, steps
from tests.support.live import LiveServer
from tests.support.rest import Rest, assert_error


@pytest.fixture
def alice(server: LiveServer) -> Rest:
    return Rest(server, server.token())


async def history(client: Rest, query: str = "") -> dict[str, object]:
    response = await client.request("GET", f"/api/agent/history{query}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    return dict(body["data"])


async def test_history_pages_newest_first_with_total(alice: Rest) -> None:
    ids = [(await alice.submit(f"t{i}", context=steps(note("a", i))))["id"] for i in range(3)]
    first = await history(alice, "?limit=2")
    assert first["total"] == 3 and first["limit"] == 2 and first["offset"] == 0
    assert [t["id"] for t in first["tasks"]] == [ids[2], ids[1]]  # type: ignore[attr-defined]
    second = await history(alice, "?limit=2&offset=2")
    assert [t["id"] for t in second["tasks"]] == [ids[0]]  # type: ignore[attr-defined]
    assert second["offset"] == 2 and second["total"] == 3
    default = await history(alice)
    assert default["limit"] == 20 and len(default["tasks"]) == 3  # type: ignore[arg-type]


async def test_history_filters_by_lower_case_status(alice: Rest) -> None:
    done = await alice.submit("done", context=steps(note("a", 1)))
    gated = await alice.submit("gated", context=steps(note("a", 1, approval=True)))
    await alice.wait_status(done["id"], "completed")
    await alice.wait_status(gated["id"], "awaiting_approval")
    completed = await history(alice, "?status=completed")
    assert [t["id"] for t in completed["tasks"]] == [done["id"]]  # type: ignore[attr-defined]
    assert completed["tasks"][0]["status"] == "completed"  # type: ignore[index]
    waiting = await history(alice, "?status=awaiting_approval")
    assert [t["id"] for t in waiting["tasks"]] == [gated["id"]]  # type: ignore[attr-defined]
    assert (await history(alice, "?status=failed"))["total"] == 0
    await alice.request("DELETE", f"/api/agent/{gated['id']}")


async def test_history_filters_by_date(alice: Rest) -> None:
    task = await alice.submit("dated")
    created = datetime.fromisoformat(task["createdAt"])
    before = (created - timedelta(minutes=1)).isoformat()
    after = (created + timedelta(minutes=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    inside = await history(alice, f"?dateFrom={before.replace('+', '%2B')}&dateTo={after}")
    assert [t["id"] for t in inside["tasks"]] == [task["id"]]  # type: ignore[attr-defined]
    later = await history(alice, f"?dateFrom={after}")
    assert later["total"] == 0 and later["tasks"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=ten", "limit"),
        ("?offset=-1", "offset"),
        ("?status=RUNNING", "status"),
        ("?status=done", "status"),
        ("?dateFrom=yesterday", "dateFrom"),
        ("?dateFrom=2026-02-01T00:00:00Z&dateTo=2026-01-01T00:00:00Z", "dateFrom"),
        # UTC conversion overflows year 1 / year 9999: once INTERNAL
        ("?dateFrom=0001-01-01T00:00:00%2B14:00", "dateFrom"),
        ("?dateTo=9999-12-31T23:59:59-14:00", "dateTo"),
    ],
)
async def test_history_rejects_bad_parameters_with_422(alice: Rest, query: str, field: str) -> None:
    response = await alice.request("GET", f"/api/agent/history{query}")
    assert_error(response, 422, "VALIDATION", "validation_error", field=field)


async def test_limit_bounds_are_inclusive(alice: Rest) -> None:
    assert (await history(alice, "?limit=1"))["limit"] == 1
    assert (await history(alice, "?limit=100"))["limit"] == 100


async def test_history_shows_only_your_own_tasks_unless_admin(server: LiveServer) -> None:
    alice = Rest(server, server.token())
    bob = Rest(server, server.token())
    mine = await alice.submit("alice's")
    assert (await history(bob))["total"] == 0
    admin = Rest(server, server.token(admin=True))
    everything = await history(admin, "?limit=100")
    assert mine["id"] in [t["id"] for t in everything["tasks"]]  # type: ignore[attr-defined]


async def test_history_refuses_an_unknown_query_parameter_by_name(alice: Rest) -> None:
    await alice.submit("kept", context=steps(note("a", 1)))
    response = await alice.request("GET", "/api/agent/history?stauts=failed&limit=5")
    error = assert_error(response, 422, "VALIDATION", "validation_error", field="stauts")
    assert error["message"] == (
        "unknown query parameter stauts; this route accepts: "
        "conversationId, dateFrom, dateTo, limit, offset, status"
    )
    assert error["details"] == [{"field": "stauts", "message": "unknown query parameter"}]


async def test_history_filters_by_conversation_as_graphql_does(server: LiveServer) -> None:
    token = server.token()
    rest, graphql = Rest(server, token), Api(server, token)
    mine = [(await rest.submit(f"c{i}", conversationId="conv-a"))["id"] for i in range(2)]
    await rest.submit("other", conversationId="conv-b")
    await rest.submit("none")
    listed = await history(rest, "?conversationId=conv-a")
    connection = (await graphql.call("ListTasks", conversationId="conv-a"))["tasks"]
    assert [t["id"] for t in listed["tasks"]] == [mine[1], mine[0]]  # type: ignore[attr-defined]
    assert [e["node"]["id"] for e in connection["edges"]] == [mine[1], mine[0]]
    assert listed["total"] == connection["totalCount"] == 2
