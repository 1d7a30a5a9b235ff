"""approveBatch's input and result types."""

from __future__ import annotations

import strawberry

from resolvers.batch_approvals import BatchOutcome, BatchResult
from schema.types import Task


@strawberry.type(description="Why one answer of a partial batch was refused.")
class BatchDecisionError:
    code: str = strawberry.field(description="The error code, as in `extensions.code`.")
    message: str = strawberry.field(description="What was wrong.")


@strawberry.type(description="The result of one answer of a batch.")
class BatchDecisionResult:
    approval_id: strawberry.ID = strawberry.field(description="The approval answered.")
    task_id: strawberry.ID = strawberry.field(description="Its task.")
    ok: bool = strawberry.field(description="Whether the answer was recorded.")
    task: Task | None = strawberry.field(description="The task after the answer, when ok.")
    error: BatchDecisionError | None = strawberry.field(description="Why not, when not ok.")

    @classmethod
    def of(cls, outcome: BatchOutcome) -> BatchDecisionResult:
        ok = outcome.error_code is None
        return cls(
            approval_id=strawberry.ID(str(outcome.approval_id)),
            task_id=strawberry.ID(str(outcome.task_id)),
            ok=ok,
            task=Task.from_model(outcome.task) if ok and outcome.task is not None else None,
            error=None
            if ok
            else BatchDecisionError(
                code=outcome.error_code or "ERROR", message=outcome.error_message or ""
            ),
        )


@strawberry.type(description="What a batch of answers did.")
class ApproveBatchResult:
    batch_id: strawberry.ID = strawberry.field(
        description="Recorded on every approval the batch answered (and in the audit log)."
    )
    atomic: bool = strawberry.field(description="Whether it was all or nothing.")
    replayed: bool = strawberry.field(
        description="True when this is the stored result of an earlier batch with the same "
        "idempotencyKey: nothing was changed by this call."
    )
    results: list[BatchDecisionResult] = strawberry.field(
        description="One per answer, in the order given."
    )
    tasks: list[Task] = strawberry.field(
        description="The tasks whose answers were recorded, in the order given."
    )

    @classmethod
    def of(cls, result: BatchResult) -> ApproveBatchResult:
        return cls(
            batch_id=strawberry.ID(str(result.batch_id)),
            atomic=result.atomic,
            replayed=result.replayed,
            results=[BatchDecisionResult.of(o) for o in result.outcomes],
            tasks=[Task.from_model(t) for t in result.tasks],
        )
