"""A synchronous GraphQL client for agentwire's task API.

The operation documents are shipped copies of graphql/operations/ (a test checks they have
not drifted), so the installed package works without the repository beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import httpx

_OPERATIONS = resources.files("agentwire_client") / "operations"


def operation(name: str) -> str:
    """The document for operation `name` with the fragments it spreads appended."""
    body = (_OPERATIONS / f"{name}.graphql").read_text()
    fragments: dict[str, str] = {}
    for chunk in (_OPERATIONS / "fragments.graphql").read_text().split("fragment ")[1:]:
        fragments[chunk.split()[0]] = "fragment " + chunk.strip()
    return _with_fragments(body, fragments)


def _with_fragments(body: str, fragments: dict[str, str]) -> str:
    # GraphQL rejects unused fragments, so add only the ones reachable from `body`.
    used: dict[str, str] = {}
    pending = [body]
    while pending:
        text = pending.pop()
        for name, definition in fragments.items():
            if name not in used and f"...{name}" in text:
                used[name] = definition
                pending.append(definition)
    return "\n".join([body.strip(), *used.values()])


class AgentwireError(Exception):
    """A GraphQL error from the server; `code` is its extensions.code (e.g. NOT_FOUND)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        first = errors[0] if errors else {}
        super().__init__(first.get("message", "GraphQL request failed"))
        self.errors = errors
        self.code: str | None = (first.get("extensions") or {}).get("code")


@dataclass(frozen=True)
class Task:
    id: str
    task: str
    status: str
    priority: int
    conversation_id: str | None
    created_at: str
    raw: dict[str, Any]

    @classmethod
    def from_graphql(cls, node: dict[str, Any]) -> Task:
        return cls(
            id=node["id"],
            task=node["task"],
            status=node["status"],
            priority=node["priority"],
            conversation_id=node.get("conversationId"),
            created_at=node["createdAt"],
            raw=node,
        )


@dataclass(frozen=True)
class TaskPage:
    tasks: list[Task]
    total_count: int
    has_next_page: bool
    end_cursor: str | None


class Client:
    """`Client("http://127.0.0.1:8000", token=...)`: one method per operation."""

    def __init__(self, url: str, token: str, *, timeout: float = 30.0) -> None:
        self._http = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def execute(self, name: str, **variables: Any) -> dict[str, Any]:
        """Run operation `name` from the shipped documents; raise AgentwireError on errors."""
        # Unset (None) variables are left out so that the schema's defaults apply.
        given = {key: value for key, value in variables.items() if value is not None}
        response = self._http.post("/graphql", json={"query": operation(name), "variables": given})
        payload: dict[str, Any] = response.json()
        if payload.get("errors"):
            raise AgentwireError(payload["errors"])
        data: dict[str, Any] = payload["data"]
        return data

    def submit_task(
        self,
        task: str,
        *,
        priority: int | None = None,
        conversation_id: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> Task:
        fields: dict[str, Any] = {"task": task}
        if context is not None:
            fields["context"] = context
        if priority is not None:
            fields["priority"] = priority
        if conversation_id is not None:
            fields["conversationId"] = conversation_id
        return Task.from_graphql(self.execute("SubmitTask", input=fields)["submitTask"])

    def task(self, task_id: str) -> Task | None:
        node = self.execute("GetTask", id=task_id)["task"]
        return None if node is None else Task.from_graphql(node)

    def tasks(
        self, *, status: str | None = None, first: int = 20, after: str | None = None
    ) -> TaskPage:
        page = self.execute("ListTasks", status=status, first=first, after=after)["tasks"]
        return TaskPage(
            tasks=[Task.from_graphql(edge["node"]) for edge in page["edges"]],
            total_count=page["totalCount"],
            has_next_page=page["pageInfo"]["hasNextPage"],
            end_cursor=page["pageInfo"]["endCursor"],
        )

    def cancel_task(self, task_id: str, *, mode: str | None = None) -> Task:
        data = self.execute("CancelTask", taskId=task_id, mode=mode)
        return Task.from_graphql(data["cancelTask"])

    def approve(
        self,
        task_id: str,
        approval_id: str,
        *,
        approved: bool = True,
        message: str | None = None,
        modified_parameters: dict[str, Any] | None = None,
    ) -> Task:
        """Answer an approval request: run the step (optionally with edited parameters) or not."""
        fields: dict[str, Any] = {
            "taskId": task_id,
            "approvalId": approval_id,
            "approved": approved,
        }
        if message is not None:
            fields["message"] = message
        if modified_parameters is not None:
            fields["modifiedParameters"] = modified_parameters
        return Task.from_graphql(self.execute("Approve", input=fields)["approve"])

    def approve_batch(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Answer several requests at once, all or none; items are ApproveInput objects
        ({taskId, approvalId, approved, message?, modifiedParameters?})."""
        tasks: list[dict[str, Any]] = self.execute("ApproveBatch", input={"items": items})[
            "approveBatch"
        ]
        return tasks

    def undo(self, task_id: str, *, step_id: str | None = None) -> Task:
        return Task.from_graphql(self.execute("Undo", taskId=task_id, stepId=step_id)["undo"])

    def undo_plan(self, task_id: str, *, step_id: str | None = None) -> dict[str, Any]:
        """What undo would do: {possible, reason, hint, steps}."""
        plan: dict[str, Any] = self.execute("UndoPlan", taskId=task_id, stepId=step_id)["undoPlan"]
        return plan

    def task_events(
        self, task_id: str, *, after: int = 0, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The task's stored events with seq > `after`, oldest first."""
        events: list[dict[str, Any]] = self.execute(
            "TaskEvents", taskId=task_id, after=after, limit=limit
        )["taskEvents"]
        return events
