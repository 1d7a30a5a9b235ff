"""The worker API (`/api/worker/...`): the routes execution engines call. Each calls one
resolver; only credentials with the `worker` scope get past the resolver's check."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from starlette.responses import Response

from resolvers import executors as executor_resolvers
from rest_compat.bodies import Body
from rest_compat.envelope import success
from rest_compat.routing import Call, Operation, Reply
from rest_compat.views import Timestamp, View, iso

WORKER_ERRORS = (400, 401, 403, 409, 413, 415, 422, 429, 503)


class ActionDeclaration(Body):
    """One action of an executor."""

    name: str = Field(description="The action name steps use.", examples=["move_file"])
    parameter_schema: dict[str, Any] = Field(
        description="A JSON Schema (draft 2020-12) for the step's `params`.",
        examples=[
            {
                "type": "object",
                "properties": {"source": {"type": "string"}, "target": {"type": "string"}},
                "required": ["source", "target"],
            }
        ],
    )
    reversibility: str = Field(
        description="`REVERSIBLE`, `COMPENSATABLE` or `IRREVERSIBLE`.",
        json_schema_extra={"enum": ["REVERSIBLE", "COMPENSATABLE", "IRREVERSIBLE"]},
    )
    description: str | None = Field(default=None, description="What the action does.")


class RegisterExecutorBody(Body):
    """An executor and the actions it can run."""

    name: str = Field(
        description="1 to 64 characters: a lower-case letter, then letters, digits, `_.-`.",
        examples=["file-organiser"],
    )
    actions: list[ActionDeclaration] = Field(description="1 to 100 actions.")


class ExecutorJson(View):
    """A registered executor."""

    name: str
    version: int = Field(description="1 on the first registration, one more on each repeat.")
    actions: list[dict[str, Any]]
    updated_at: Timestamp

    @classmethod
    def of(cls, row: executor_resolvers.RegisteredExecutor) -> ExecutorJson:
        return cls(
            name=row.name,
            version=row.version,
            actions=list(row.actions),
            updated_at=iso(row.updated_at) or "",
        )


class ExecutorData(View):
    executor: ExecutorJson


async def register(call: Call) -> Response:
    body: RegisterExecutorBody = call.body
    row = await executor_resolvers.register_executor(
        call.ctx,
        data=executor_resolvers.ExecutorInput(
            name=body.name,
            actions=[a.model_dump(by_alias=True, exclude_none=True) for a in body.actions],
        ),
    )
    return success(ExecutorData(executor=ExecutorJson.of(row)).dump())


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "POST",
        "/worker/executors",
        "registerExecutor",
        "Register an executor's actions",
        "Declares (or replaces) the actions an executor runs, each with a JSON Schema "
        "(draft 2020-12) for its params and its reversibility. Plans naming this executor "
        "(`context.executor`) are checked against them. Needs a `worker` key; a name "
        "registered by another user, or a built-in one, is 409.",
        register,
        replies=(Reply(200, "The executor as registered.", ExecutorData),),
        errors=WORKER_ERRORS,
        body=RegisterExecutorBody,
        tag="worker",
    ),
)
