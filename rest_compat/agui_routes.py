"""AG-UI over Server-Sent Events: submit a task, watch it, answer its approvals as interrupts.

- `POST /ag-ui/tasks` with a `RunAgentInput`: the `threadId` is the task's id. A thread that
  is not a task yet submits one (the last user message, or `forwardedProps.task`, is its text;
  `forwardedProps.context`, `.priority` and `.conversationId` as on `submitTask`); a thread
  that is one of the caller's tasks is watched, after applying the input's `resume` answers.
- `POST /ag-ui/tasks/{taskId}`: the same for an existing task (resume after an interrupt).
- `GET /ag-ui/tasks/{taskId}`: watch; with `Last-Event-ID` the stream continues after that
  `seq` without a snapshot, so the client keeps applying deltas to the state it has.
- `GET /ag-ui/capabilities`: what this agent declares (`transport.resumable` among them).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

from ag_ui.core import (
    AgentCapabilities,
    HumanInTheLoopCapabilities,
    IdentityCapabilities,
    ResumeEntry,
    RunAgentInput,
    StateCapabilities,
    TransportCapabilities,
)
from starlette.applications import Starlette
from starlette.responses import Response, StreamingResponse

from domain.vocabulary import ApprovalStatus
from resolvers.approvals import ApprovalAnswer, approve_step
from resolvers.batch_approvals import BatchItem, approve_batch
from resolvers.errors import NotFoundError, ValidationFailedError
from resolvers.executors import DEFAULT_EXECUTOR, actions_of
from resolvers.feeds import open_task_feed
from resolvers.limits import throttle
from resolvers.tasks import SubmitTaskInput, find_task, submit_task
from resolvers.validation import parse_id
from rest_compat.agui_render import Frame, ParameterSchemas, RunRenderer
from rest_compat.agui_state import task_state
from rest_compat.envelope import JSON_MEDIA_TYPE
from rest_compat.inputs import Param
from rest_compat.routes_tasks import TASK_ID
from rest_compat.routing import Call, Dependencies, Operation, Reply, build_routes
from rest_compat.sse import SSE_HEADERS, SSE_MEDIA_TYPE, with_heartbeats
from subscriptions.envelope import Event
from subscriptions.feeds import TaskFeed
from subscriptions.telemetry import AG_UI, Watch

LAST_EVENT_ID = Param(
    "Last-Event-ID",
    "header",
    {"type": "integer", "minimum": 0, "maximum": 2**53},
    "Continue after this seq (the `id` of the last event received).",
)


def _task_text(body: RunAgentInput) -> str:
    props = body.forwarded_props if isinstance(body.forwarded_props, dict) else {}
    if isinstance(props.get("task"), str):
        return str(props["task"])
    for message in reversed(body.messages):
        if message.role != "user":
            continue
        content: Any = getattr(message, "content", None)
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            parts = [getattr(part, "text", None) for part in content]
            return "\n".join(part for part in parts if isinstance(part, str))
    raise ValidationFailedError(
        "the task has no text",
        field="messages",
        hint="send the task as the last user message, or as forwardedProps.task",
    )


def _submission(body: RunAgentInput, task_id: uuid.UUID) -> SubmitTaskInput:
    props = body.forwarded_props if isinstance(body.forwarded_props, dict) else {}
    return SubmitTaskInput(
        task=_task_text(body),
        priority=props.get("priority"),
        conversation_id=props.get("conversationId"),
        context=props.get("context"),
        task_id=task_id,
    )


def _answer(entry: ResumeEntry, index: int) -> ApprovalAnswer:
    """A resume entry as an approval answer: `resolved` carries the decision, `cancelled`
    rejects."""
    field = f"resume[{index}]"
    approval_id = parse_id(entry.interrupt_id, field=f"{field}.interruptId")
    if entry.status == "cancelled":
        return ApprovalAnswer(approval_id=approval_id, approved=False, message="cancelled")
    payload = entry.payload
    if not isinstance(payload, dict) or not isinstance(payload.get("approved"), bool):
        raise ValidationFailedError(
            f"{field}.payload must be an object with a boolean 'approved'",
            field=f"{field}.payload.approved",
            hint='answer with {"approved": true} or {"approved": false, "message": "why"}',
        )
    return ApprovalAnswer(
        approval_id=approval_id,
        approved=payload["approved"],
        message=payload.get("message"),
        modified_parameters=payload.get("modifiedParameters"),
    )


async def _apply_resume(call: Call, task_id: uuid.UUID, entries: list[ResumeEntry]) -> None:
    answers = [_answer(entry, index) for index, entry in enumerate(entries)]
    if len(answers) == 1:
        await approve_step(call.ctx, task_id=task_id, answer=answers[0])
    elif answers:
        await approve_batch(
            call.ctx, items=[BatchItem(task_id=task_id, answer=answer) for answer in answers]
        )


def _pending_approvals(snapshot: Event) -> set[str]:
    return {
        a["id"] for a in snapshot.data["task"]["approvals"] if a["status"] == ApprovalStatus.PENDING
    }


async def run_frames(
    feed: TaskFeed,
    renderer: RunRenderer,
    *,
    after: int | None,
    parameter_schemas: Callable[[str], Awaitable[ParameterSchemas]],
) -> AsyncIterator[Frame]:
    """One run, counted as one subscriber of the `ag-ui` channel (a resume with `after`)."""
    watch = Watch(AG_UI, resumed=after is not None)
    try:
        run = _run_frames(
            feed, renderer, after=after, parameter_schemas=parameter_schemas, watch=watch
        )
        async with contextlib.aclosing(run) as frames:
            async for frame in frames:
                yield frame
    finally:
        watch.close()


async def _run_frames(
    feed: TaskFeed,
    renderer: RunRenderer,
    *,
    after: int | None,
    parameter_schemas: Callable[[str], Awaitable[ParameterSchemas]],
    watch: Watch,
) -> AsyncGenerator[Frame]:
    """One run: RUN_STARTED, the task's state (a snapshot, or the events after `after`), the
    live events, and the ending its status calls for."""
    for frame in renderer.started():
        yield frame
    snapshot = await feed.snapshot()
    if snapshot is None or snapshot.seq is None:
        raise NotFoundError(f"task {feed.task_id} not found")
    # The snapshot's own rows name the executor, so the task is not read again for it.
    executor = snapshot.attachment.task.executor or DEFAULT_EXECUTOR
    renderer.parameter_schemas = await parameter_schemas(executor)
    if after is None or await feed.needs_snapshot(after):
        watch.sent(snapshot)
        for frame in renderer.snapshot(snapshot):
            yield frame
    else:
        pending = _pending_approvals(snapshot)
        position = after
        while position < snapshot.seq and not renderer.ended:
            batch = [e for e in await feed.read_after(position) if (e.seq or 0) <= snapshot.seq]
            if not batch:
                break
            for event in batch:
                watch.sent(event)
                for frame in renderer.render(event, is_pending=pending.__contains__):
                    yield frame
                position = event.seq or position
        if not renderer.ended:
            for frame in renderer.end_for_state(task_state(snapshot.data["task"])):
                yield frame
    if renderer.ended:
        return
    live = feed.live(snapshot.seq)
    try:
        async for event in live:
            watch.sent(event)
            for frame in renderer.render(event, is_pending=lambda _: True):
                yield frame
            if renderer.ended:
                return
    finally:
        aclose = getattr(live, "aclose", None)
        if aclose is not None:
            await aclose()


async def _encoded(frames: AsyncIterator[Frame]) -> AsyncIterator[bytes]:
    async for frame in frames:
        yield frame.encode()


def capabilities() -> AgentCapabilities:
    return AgentCapabilities(
        identity=IdentityCapabilities(
            name="agentwire", type="task-runner", description="Agent Mode tasks"
        ),
        transport=TransportCapabilities(streaming=True, resumable=True),
        state=StateCapabilities(snapshots=True, deltas=True),
        human_in_the_loop=HumanInTheLoopCapabilities(
            supported=True, approvals=True, interrupts=True
        ),
    )


def agui_operations(heartbeat_seconds: float) -> tuple[Operation, ...]:
    async def open_stream(
        call: Call, task_id: uuid.UUID, *, after: int | None, run_id: str | None
    ) -> Response:
        await throttle(call.ctx, "subscribe")
        feed, _ = await open_task_feed(call.ctx, task_id=task_id, after=0)

        async def parameter_schemas(executor: str) -> ParameterSchemas:
            actions = await actions_of(call.ctx, executor) or {}
            return {name: spec.parameter_schema for name, spec in actions.items()}

        renderer = RunRenderer(thread_id=str(task_id), run_id=run_id)
        frames = run_frames(feed, renderer, after=after, parameter_schemas=parameter_schemas)
        return StreamingResponse(
            with_heartbeats(_encoded(frames), heartbeat_seconds),
            media_type=SSE_MEDIA_TYPE,
            headers=SSE_HEADERS,
        )

    async def run(call: Call) -> Response:
        body: RunAgentInput = call.body
        task_id = parse_id(body.thread_id, field="threadId")
        path_id = call.params.get("taskId")
        if path_id is not None and path_id != task_id:
            raise ValidationFailedError(
                "threadId must be the task id of the path",
                field="threadId",
                hint=f"send threadId {path_id}",
            )
        existing = await find_task(call.ctx, task_id=task_id)
        if existing is None:
            if path_id is not None or body.resume:
                raise NotFoundError(f"task {task_id} not found")
            await submit_task(call.ctx, data=_submission(body, task_id))
        else:
            await _apply_resume(call, task_id, list(body.resume or []))
        return await open_stream(call, task_id, after=None, run_id=body.run_id)

    async def watch(call: Call) -> Response:
        after = call.params["Last-Event-ID"]
        return await open_stream(call, call.params["taskId"], after=after, run_id=None)

    async def describe(call: Call) -> Response:
        body = capabilities().model_dump_json(by_alias=True, exclude_none=True)
        return Response(body, media_type=JSON_MEDIA_TYPE)

    stream_reply = (Reply(200, "An AG-UI event stream.", None, media_type=SSE_MEDIA_TYPE),)
    errors = (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)
    return (
        Operation(
            "POST",
            "/tasks",
            "aguiRun",
            "Run a task as an AG-UI agent",
            "Submits the thread's task, or resumes it with the input's answers, and streams.",
            run,
            replies=stream_reply,
            errors=errors,
            body=RunAgentInput,
            tag="ag-ui",
        ),
        Operation(
            "POST",
            "/tasks/{taskId}",
            "aguiResume",
            "Resume an AG-UI run",
            "Applies the input's resume answers to the task's interrupts, then streams.",
            run,
            replies=stream_reply,
            errors=errors,
            params=(TASK_ID,),
            body=RunAgentInput,
            tag="ag-ui",
        ),
        Operation(
            "GET",
            "/tasks/{taskId}",
            "aguiWatch",
            "Watch a task as an AG-UI event stream",
            "With Last-Event-ID, continues after that seq with no gap and no repeat.",
            watch,
            replies=stream_reply,
            errors=(401, 403, 404, 422, 429, 503),
            params=(TASK_ID, LAST_EVENT_ID),
            tag="ag-ui",
        ),
        Operation(
            "GET",
            "/capabilities",
            "aguiCapabilities",
            "What this AG-UI agent supports",
            "An AG-UI AgentCapabilities document.",
            describe,
            replies=(Reply(200, "AgentCapabilities."),),
            errors=(401,),
            tag="ag-ui",
        ),
    )


def create_agui_app(deps: Dependencies, *, heartbeat_seconds: float) -> Starlette:
    """The ASGI app to mount at `/ag-ui`."""
    return Starlette(routes=build_routes(agui_operations(heartbeat_seconds), deps))
