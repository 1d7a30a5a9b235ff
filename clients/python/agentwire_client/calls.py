"""The sans-I/O core of `Client` and `AsyncClient`: each operation as a `Call` (the document's
name, its variables, and how its data becomes a typed result). The two clients differ only
in how they send a call (httpx.Client or httpx.AsyncClient), so no rule is written twice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from agentwire_client.models import AgentwireError, Task, TaskPage
from agentwire_client.operations import operation

T = TypeVar("T")


@dataclass(frozen=True)
class Call(Generic[T]):
    name: str
    variables: dict[str, Any]
    parse: Callable[[dict[str, Any]], T]

    def body(self) -> dict[str, Any]:
        # Unset (None) variables are left out so that the schema's defaults apply.
        given = {key: value for key, value in self.variables.items() if value is not None}
        return {"query": operation(self.name), "variables": given}


def data_of(response: httpx.Response) -> dict[str, Any]:
    """The `data` of a GraphQL response; AgentwireError for its errors or a body that is not
    GraphQL (a proxy's error page, a server that is not agentwire)."""
    try:
        payload = response.json()
    except ValueError:
        raise AgentwireError.of(
            "BAD_RESPONSE", f"HTTP {response.status_code} from {response.url} is not JSON"
        ) from None
    if not isinstance(payload, dict):
        raise AgentwireError.of("BAD_RESPONSE", f"HTTP {response.status_code}: not a GraphQL body")
    if payload.get("errors"):
        raise AgentwireError(payload["errors"])
    data = payload.get("data")
    if not isinstance(data, dict):
        raise AgentwireError.of("BAD_RESPONSE", f"HTTP {response.status_code}: no data")
    return data


def raw(name: str, variables: dict[str, Any]) -> Call[dict[str, Any]]:
    return Call(name, variables, lambda data: data)


def _field(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda data: data[name]


def _task(name: str) -> Callable[[dict[str, Any]], Task]:
    return lambda data: Task.from_graphql(data[name])


def submit_task(
    task: str,
    *,
    priority: int | None,
    conversation_id: str | None,
    context: dict[str, Any] | None,
    idempotency_key: str | None,
) -> Call[Task]:
    fields: dict[str, Any] = {"task": task}
    optional = {
        "context": context,
        "priority": priority,
        "conversationId": conversation_id,
        "idempotencyKey": idempotency_key,
    }
    fields.update({key: value for key, value in optional.items() if value is not None})
    return Call("SubmitTask", {"input": fields}, _task("submitTask"))


def get_task(task_id: str) -> Call[Task | None]:
    def parse(data: dict[str, Any]) -> Task | None:
        node = data["task"]
        return None if node is None else Task.from_graphql(node)

    return Call("GetTask", {"id": task_id}, parse)


def list_tasks(*, status: str | None, first: int, after: str | None) -> Call[TaskPage]:
    def parse(data: dict[str, Any]) -> TaskPage:
        page = data["tasks"]
        return TaskPage(
            tasks=[Task.from_graphql(edge["node"]) for edge in page["edges"]],
            total_count=page["totalCount"],
            has_next_page=page["pageInfo"]["hasNextPage"],
            end_cursor=page["pageInfo"]["endCursor"],
        )

    return Call("ListTasks", {"status": status, "first": first, "after": after}, parse)


def cancel_task(task_id: str, *, mode: str | None) -> Call[Task]:
    return Call("CancelTask", {"taskId": task_id, "mode": mode}, _task("cancelTask"))


def approve(
    task_id: str,
    approval_id: str,
    *,
    approved: bool,
    message: str | None,
    modified_parameters: dict[str, Any] | None,
) -> Call[Task]:
    fields: dict[str, Any] = {"taskId": task_id, "approvalId": approval_id, "approved": approved}
    if message is not None:
        fields["message"] = message
    if modified_parameters is not None:
        fields["modifiedParameters"] = modified_parameters
    return Call("Approve", {"input": fields}, _task("approve"))


def approve_batch(items: list[dict[str, Any]]) -> Call[list[dict[str, Any]]]:
    """All or nothing; the tasks in the order of the answers."""
    return Call(
        "ApproveBatch", {"input": {"decisions": items}}, lambda data: data["approveBatch"]["tasks"]
    )


def undo(task_id: str, *, step_id: str | None) -> Call[Task]:
    return Call("Undo", {"taskId": task_id, "stepId": step_id}, _task("undo"))


def undo_plan(task_id: str, *, step_id: str | None) -> Call[dict[str, Any]]:
    return Call("UndoPlan", {"taskId": task_id, "stepId": step_id}, _field("undoPlan"))


def task_events(task_id: str, *, after: int, limit: int) -> Call[list[dict[str, Any]]]:
    variables = {"taskId": task_id, "after": after, "limit": limit}
    return Call("TaskEvents", variables, _field("taskEvents"))
