"""Batch approval: several related requests answered together, or none when one is wrong."""

from __future__ import annotations

import httpx
import pytest

from tests.support.clients import Api, GraphQLCallError, note, steps


async def gated_tasks(api: Api, count: int) -> list[dict]:
    tasks = [
        await api.submit(f"gated {i}", context=steps(note(f"k{i}", i, approval=True)))
        for i in range(count)
    ]
    return [await api.wait_status(t["id"], "AWAITING_APPROVAL") for t in tasks]


def answer(task: dict, **fields: object) -> dict:
    return {
        "taskId": task["id"],
        "approvalId": task["pendingApproval"]["id"],
        "approved": True,
        **fields,
    }


async def test_a_batch_answers_every_request_in_order_with_one_batch_id(alice: Api) -> None:
    first, second, third = await gated_tasks(alice, 3)
    items = [
        answer(first),
        answer(second, approved=False, message="not this one"),
        answer(third, modifiedParameters={"key": "k2", "value": "changed"}),
    ]
    result = (await alice.call("ApproveBatch", input={"items": items}))["approveBatch"]["tasks"]
    assert [t["id"] for t in result] == [first["id"], second["id"], third["id"]]
    done = [await alice.wait_status(t["id"], "COMPLETED") for t in (first, second, third)]
    assert [d["approvals"][0]["status"] for d in done] == ["APPROVED", "REJECTED", "MODIFIED"]
    assert done[1]["approvals"][0]["decisionMessage"] == "not this one"
    assert done[0]["artifacts"] == {"k0": 0}
    assert done[1]["artifacts"] == {}
    assert done[2]["artifacts"] == {"k2": "changed"}


async def test_a_batch_with_an_answered_approval_changes_nothing(alice: Api) -> None:
    first, second = await gated_tasks(alice, 2)
    await alice.call("Approve", input=answer(second))
    with pytest.raises(GraphQLCallError) as error:
        await alice.call("ApproveBatch", input={"items": [answer(first), answer(second)]})
    assert error.value.code == "CONFLICT"
    assert (await alice.get(first["id"]))["approvals"][0]["status"] == "PENDING"
    await alice.call("CancelTask", taskId=first["id"])


async def test_a_batch_naming_another_users_task_is_not_found_and_changes_nothing(
    alice: Api, bob: Api
) -> None:
    [mine] = await gated_tasks(alice, 1)
    [theirs] = await gated_tasks(bob, 1)
    with pytest.raises(GraphQLCallError) as error:
        await alice.call("ApproveBatch", input={"items": [answer(mine), answer(theirs)]})
    assert error.value.code == "NOT_FOUND"
    assert str(error.value) == f"task {theirs['id']} was not found"
    assert (await alice.get(mine["id"]))["approvals"][0]["status"] == "PENDING"
    assert (await bob.get(theirs["id"]))["approvals"][0]["status"] == "PENDING"
    await alice.call("CancelTask", taskId=mine["id"])
    await bob.call("CancelTask", taskId=theirs["id"])


@pytest.mark.parametrize(
    ("make_items", "message"),
    [
        (lambda t: [], "a batch holds 1 to 50 answers; this one has 0"),
        (lambda t: [answer(t), answer(t)], "each approval may appear once in a batch"),
        (
            lambda t: [answer(t, approved=False, modifiedParameters={"key": "k0", "value": 1})],
            "modifiedParameters only goes with approved: true",
        ),
    ],
)
async def test_malformed_batches_are_validation_errors(
    alice: Api, make_items: object, message: str
) -> None:
    [task] = await gated_tasks(alice, 1)
    with pytest.raises(GraphQLCallError) as error:
        await alice.call("ApproveBatch", input={"items": make_items(task)})  # type: ignore[operator]
    assert error.value.code == "VALIDATION"
    assert str(error.value) == message
    assert (await alice.get(task["id"]))["approvals"][0]["status"] == "PENDING"
    await alice.call("CancelTask", taskId=task["id"])


async def test_a_partial_batch_records_the_others_and_names_each_refusal(alice: Api) -> None:
    first, second, third = await gated_tasks(alice, 3)
    await alice.call("Approve", input=answer(second))  # answered before the batch
    batch = {"decisions": [answer(first), answer(second), answer(third)], "atomic": False}
    result = (await alice.call("ApproveBatch", input=batch))["approveBatch"]
    assert result["atomic"] is False and result["replayed"] is False
    assert [r["ok"] for r in result["results"]] == [True, False, True]
    assert result["results"][1]["error"]["code"] == "CONFLICT"
    assert result["results"][1]["approvalId"] == second["pendingApproval"]["id"]
    assert [t["id"] for t in result["tasks"]] == [first["id"], third["id"]]
    for task in (first, third):
        assert (await alice.wait_status(task["id"], "COMPLETED"))["approvals"][0]["status"] == (
            "APPROVED"
        )


async def test_a_repeated_batch_returns_the_first_result_and_changes_nothing(
    alice: Api,
) -> None:
    first, second = await gated_tasks(alice, 2)
    batch = {
        "decisions": [answer(first), answer(second, approved=False, message="no")],
        "idempotencyKey": "review-4711",
    }
    once = (await alice.call("ApproveBatch", input=batch))["approveBatch"]
    done = [await alice.wait_status(t["id"], "COMPLETED") for t in (first, second)]
    again = (await alice.call("ApproveBatch", input=batch))["approveBatch"]
    assert again["replayed"] is True and once["replayed"] is False
    assert again["batchId"] == once["batchId"]
    assert again["results"] == once["results"]
    after = [await alice.get(t["id"]) for t in (first, second)]
    assert [a["approvals"] for a in after] == [d["approvals"] for d in done]
    # a failed atomic batch keeps no key: the same key works once the batch is right
    [third] = await gated_tasks(alice, 1)
    wrong = {"decisions": [answer(third), answer(first)], "idempotencyKey": "retry-me"}
    with pytest.raises(GraphQLCallError) as error:
        await alice.call("ApproveBatch", input=wrong)
    assert error.value.code == "CONFLICT"
    right = {"decisions": [answer(third)], "idempotencyKey": "retry-me"}
    fixed = (await alice.call("ApproveBatch", input=right))["approveBatch"]
    assert fixed["replayed"] is False and [r["ok"] for r in fixed["results"]] == [True]


async def test_the_rest_batch_route_answers_partially_and_replays(alice: Api) -> None:
    first, second = await gated_tasks(alice, 2)
    await alice.call("Approve", input=answer(second))
    body = {
        "decisions": [answer(first), answer(second)],
        "atomic": False,
        "idempotencyKey": "rest-batch-1",
    }
    async with httpx.AsyncClient(
        base_url=alice.server.http_url, headers={"Authorization": f"Bearer {alice.token}"}
    ) as client:
        once = await client.post("/api/agent/approvals/batch", json=body)
        again = await client.post("/api/agent/approvals/batch", json=body)
        empty = await client.post("/api/agent/approvals/batch", json={"decisions": []})
    assert once.status_code == 200, once.text
    data = once.json()["data"]
    assert [r["ok"] for r in data["results"]] == [True, False]
    assert data["results"][0]["task"]["id"] == first["id"]
    assert data["results"][1]["error"]["code"] == "CONFLICT"
    assert again.json()["data"]["replayed"] is True
    assert again.json()["data"]["batchId"] == data["batchId"]
    assert empty.status_code == 422
