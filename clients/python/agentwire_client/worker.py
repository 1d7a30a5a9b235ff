"""The worker SDK: an execution engine registers handlers per action and `Worker` does the
protocol for it (docs/workers.md): claims, lease heartbeats, sequence numbers, retries with
backoff, approvals, cancellation and skipping steps a previous worker already completed.

    worker = Worker("http://127.0.0.1:8000", key, executor="file-organiser")

    @worker.action("move_file", schema={...}, reversibility="REVERSIBLE")
    async def move_file(params, ctx):
        await ctx.progress(0.5, "moving")
        return StepResult({"moved": params["source"]}, rollback={"back": params["target"]})

    asyncio.run(worker.run())
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

logger = logging.getLogger("agentwire_client.worker")

DONE_STEP_STATUSES = ("completed", "skipped", "cancelled", "failed", "rolled_back")
RETRY_STATUSES = (429, 502, 503, 504)


class LeaseLostError(Exception):
    """The server no longer gives this worker the task (expired, cancelled, reclaimed)."""


class TaskCancelledError(Exception):
    """Raised by `StepContext.checkpoint()` once the task was cancelled."""


class _ReleasedError(Exception):
    """The task was given back while it waits for an approval; unwinds the step handler
    (the step runs again, from its start, when the decision brings the task back)."""


class ProtocolError(Exception):
    """The server refused a request; `code` is the error envelope's code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class StepResult:
    """What a handler may return: the result, and what its rollback handler will need."""

    result: Any = None
    rollback: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    status: str
    parameters: dict[str, Any]
    message: str | None
    allowed: bool | None = None

    @property
    def granted(self) -> bool:
        """Whether the step may run: approved, modified, or expired with onTimeout approve."""
        if self.allowed is not None:
            return self.allowed
        return self.status in ("approved", "modified")

    @classmethod
    def of(cls, signal: dict[str, Any]) -> Decision:
        return cls(
            signal["status"],
            dict(signal["parameters"] or {}),
            signal.get("message"),
            signal.get("granted"),
        )


Handler = Callable[[dict[str, Any], "StepContext"], Awaitable[Any]]
RollbackHandler = Callable[[dict[str, Any] | None, "StepContext"], Awaitable[None]]


@dataclass(slots=True)
class Action:
    name: str
    schema: dict[str, Any]
    reversibility: str
    handler: Handler
    rollback: RollbackHandler | None = None
    description: str | None = None


@dataclass(slots=True)
class _Lease:
    task_id: str
    token: str
    sequence: int = 0
    cancel_mode: str | None = None
    lost: bool = False
    approvals: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def cancelled(self) -> bool:
        """Any cancel: no further step may start."""
        return self.cancel_mode is not None


class StepContext:
    """What a handler sees: report progress and logs, ask for approval, notice cancel."""

    def __init__(self, worker: Worker, lease: _Lease, step: dict[str, Any]) -> None:
        self._worker = worker
        self._lease = lease
        self.step = step
        self.task_id = lease.task_id
        # Set when a mid-step approval was refused: the server skipped the step, so the
        # worker reports nothing more about it, whatever the handler returns.
        self.skipped = False

    @property
    def cancelled(self) -> bool:
        """True once the task was cancelled with mode `immediate`: stop the step now. (An
        `after_step` cancel lets the step finish; the worker starts no further step.)"""
        return self._lease.cancel_mode == "immediate"

    async def checkpoint(self) -> None:
        if self._lease.lost:
            raise LeaseLostError(self.task_id)
        if self.cancelled:
            raise TaskCancelledError(self.task_id)

    async def progress(self, fraction: float, message: str | None = None) -> None:
        await self.checkpoint()
        await self._worker._write(
            self._lease,
            f"/steps/{self.step['id']}/progress",
            {"progress": fraction, "message": message},
        )

    async def log(self, message: str, *, level: str = "info") -> None:
        await self._worker._write(
            self._lease, f"/steps/{self.step['id']}/log", {"level": level, "message": message}
        )

    async def set_artifact(self, key: str, value: Any) -> tuple[bool, Any]:
        """Store `value` as the task's artifact `key`; returns whether it existed and its
        previous value (what a rollback needs to put it back). Should the answer be lost and
        the write retried, the retry says only what is there now: (True, value)."""
        answer = await self._worker._write(self._lease, "/artifacts", {"key": key, "value": value})
        artifact = answer["artifact"]
        if not answer["applied"]:
            return True, artifact.get("value")
        return bool(artifact["existed"]), artifact["previous"]

    async def remove_artifact(self, key: str) -> None:
        await self._worker._write(self._lease, "/artifacts", {"key": key, "remove": True})

    async def request_approval(
        self, prompt: str, parameters: dict[str, Any] | None = None, *, key: str | None = None
    ) -> Decision:
        """Ask a person; returns their decision (or the request's expiry).

        The worker keeps the lease for up to `approval_hold_seconds` while it waits; past
        that it releases the task (it then holds no lease and no slot) and this call does
        not return: the handler is unwound, and when the decision arrives the task is
        claimed again (by this or another worker) and the step's handler runs again from
        its start. Its second `request_approval` with the same prompt (or `key`) returns the
        decision at once. So do the work after asking, or make what comes before it safe
        to repeat."""
        decision, waited = await self._worker._approval(
            self._lease, self.step, prompt, parameters, key
        )
        if decision.granted and waited and not self._lease.cancelled:
            # The grant put the waiting step back to pending: it goes on from here, started
            # again (a decision found already made left the running step as it was).
            await self._worker._write(self._lease, f"/steps/{self.step['id']}/start", {})
        elif not decision.granted:
            self.skipped = True
        return decision


class Worker:
    """Runs tasks of one executor: `action()` registers handlers, `run()` works the queue."""

    def __init__(
        self,
        url: str,
        key: str,
        *,
        executor: str,
        lease_seconds: float = 30,
        wait_seconds: float = 10,
        approval_hold_seconds: float = 0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.executor = executor
        self.lease_seconds = lease_seconds
        self.wait_seconds = wait_seconds
        # How long to keep a task's lease while a person decides before giving it back
        # (0: at once). A released task holds no lease and no slot; the decision brings it
        # back to the queue, and its claim carries the decision.
        self.approval_hold_seconds = approval_hold_seconds
        self.actions: dict[str, Action] = {}
        self._http = httpx.AsyncClient(
            base_url=url.rstrip("/"),
            headers={"X-API-Key": key},
            timeout=httpx.Timeout(wait_seconds + 30),
            transport=transport,
        )
        self._stopping = False
        self._running: asyncio.Task[None] | None = None
        self._releasing = False

    # declaring

    def action(
        self,
        name: str,
        *,
        schema: dict[str, Any],
        reversibility: str = "REVERSIBLE",
        rollback: RollbackHandler | None = None,
        description: str | None = None,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.actions[name] = Action(
                name, schema, reversibility.upper(), handler, rollback, description
            )
            return handler

        return register

    async def register(self) -> dict[str, Any]:
        """Declare this executor's actions (their schemas and reversibility) to the server."""
        actions = [
            {
                "name": a.name,
                "parameterSchema": a.schema,
                "reversibility": a.reversibility,
                **({"description": a.description} if a.description else {}),
            }
            for a in self.actions.values()
        ]
        body = await self._request(
            "POST", "/api/worker/executors", {"name": self.executor, "actions": actions}
        )
        return dict(body["data"]["executor"])

    # running

    async def run(self, *, register: bool = True, max_tasks: int | None = None) -> int:
        """Claim and run tasks until `stop()` (or `max_tasks`); returns how many ran."""
        if register and self.executor != "builtin":
            await self.register()
        done = 0
        while not self._stopping and (max_tasks is None or done < max_tasks):
            if await self.run_once():
                done += 1
        return done

    def stop(self, *, release: bool = False) -> None:
        """Claim nothing more. With `release`, also interrupt the task being run and give
        it back to the queue (its running step starts again elsewhere; no attempt is used
        up); without, finish it first."""
        self._stopping = True
        if release and self._running is not None:
            self._releasing = True
            self._running.cancel()

    async def close(self) -> None:
        await self._http.aclose()

    async def run_once(self) -> bool:
        """Claim one task (waiting up to `wait_seconds`) and run it; False when none came,
        or when the task was released to wait for an approval (it comes back later)."""
        response = await self._send(
            "POST",
            "/api/worker/claim",
            {
                "executors": [self.executor],
                "leaseSeconds": self.lease_seconds,
                "wait": self.wait_seconds,
            },
        )
        if response.status_code == 204:
            return False
        claim = self._data(response)
        lease = _Lease(
            task_id=claim["task"]["id"],
            token=claim["leaseToken"],
            approvals=list(claim.get("approvals") or []),
        )
        beating = asyncio.create_task(self._heartbeats(lease))
        if claim.get("undo") is not None:
            work = self._run_undo(lease, claim["steps"], list(claim["undo"]))
        else:
            work = self._run_task(lease, claim["steps"])
        self._running = asyncio.create_task(work)
        try:
            await self._running
        except asyncio.CancelledError:
            if not self._releasing:
                raise
            if not lease.lost:
                with contextlib.suppress(httpx.HTTPError, ProtocolError, LeaseLostError):
                    await self._write(lease, "/release", {})
            logger.info("stopped: gave task %s back to the queue", lease.task_id)
            return False
        except _ReleasedError:
            logger.info("released task %s until its approval is decided", lease.task_id)
            return False
        except LeaseLostError:
            logger.warning("lost the lease on task %s; leaving it", lease.task_id)
        finally:
            self._running = None
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
        return True

    async def _run_task(self, lease: _Lease, steps: list[dict[str, Any]]) -> None:
        for step in steps:
            if step["status"] in DONE_STEP_STATUSES:
                continue  # done by an earlier worker: never run again
            if lease.cancelled:
                break
            params = dict(step["params"])
            if step["requiresApproval"] and step["status"] != "running":
                decision, _ = await self._approval(
                    lease,
                    step,
                    f"Approve step {step['position'] + 1}: {step['name']}",
                    params,
                    None,
                )
                if not decision.granted:
                    if lease.cancelled or lease.lost:
                        break
                    continue  # the server skipped the step (or cancelled the task)
                params = decision.parameters
            if lease.cancelled:
                break
            if step["status"] != "running":
                await self._write(lease, f"/steps/{step['id']}/start", {})
            action = self.actions.get(step["action"])
            ctx = StepContext(self, lease, step)
            try:
                if action is None:
                    raise RuntimeError(f"this worker has no handler for {step['action']!r}")
                outcome = await action.handler(params, ctx)
            except TaskCancelledError:
                break
            except (LeaseLostError, _ReleasedError):
                raise
            except Exception as error:  # the handler failed: report it, end the task
                logger.exception("step %s failed", step["id"])
                await self._write(
                    lease,
                    f"/steps/{step['id']}/fail",
                    {"error": {"code": type(error).__name__, "message": str(error) or "failed"}},
                )
                return
            if ctx.skipped:
                continue  # refused mid-step: the server skipped it (or cancelled the task)
            result = outcome if isinstance(outcome, StepResult) else StepResult(outcome)
            await self._write(
                lease,
                f"/steps/{step['id']}/complete",
                {"result": result.result, "rollback": result.rollback},
            )
        if lease.cancelled:
            await self._write(
                lease, "/fail", {"error": {"code": "CANCELLED", "message": "stopped on cancel"}}
            )
            return
        await self._write(lease, "/complete", {})

    async def _run_undo(
        self, lease: _Lease, steps: list[dict[str, Any]], planned: list[str]
    ) -> None:
        """Undo work: run the rollback handler of each listed step, in the listed order
        (newest first), reporting each; the first that fails ends the undo."""
        by_id = {step["id"]: step for step in steps}
        for step_id in planned:
            step = by_id[step_id]
            if step["status"] == "rolled_back":
                continue  # rolled back by an earlier worker of this undo
            action = self.actions.get(step["action"])
            ctx = StepContext(self, lease, step)
            try:
                if action is None or action.rollback is None:
                    raise RuntimeError(f"this worker has no rollback for {step['action']!r}")
                await action.rollback(step.get("rollback"), ctx)
            except LeaseLostError:
                raise
            except Exception as error:
                logger.exception("rolling back step %s failed", step_id)
                await self._write(
                    lease,
                    f"/steps/{step_id}/rollback-failed",
                    {"error": {"code": type(error).__name__, "message": str(error) or "failed"}},
                )
                return
            await self._write(lease, f"/steps/{step_id}/rolled-back", {})
        await self._write(lease, "/undo/complete", {})

    async def _approval(
        self,
        lease: _Lease,
        step: dict[str, Any],
        prompt: str,
        parameters: dict[str, Any] | None,
        key: str | None,
    ) -> tuple[Decision, bool]:
        """The decision, and whether it was pending when asked (the step then waited in
        `awaiting_approval` and a grant put it back to `pending`)."""
        dedupe = key or f"step:{step['id']}"
        answer = await self._write(
            lease,
            "/approvals",
            {"stepId": step["id"], "prompt": prompt, "parameters": parameters, "dedupeKey": dedupe},
        )
        approval_id = answer["approval"]["id"]
        waited = answer["approval"]["status"] == "pending"
        hold_until = asyncio.get_running_loop().time() + self.approval_hold_seconds
        while True:
            for approval in lease.approvals:
                if approval["approvalId"] == approval_id and approval["status"] != "pending":
                    return Decision.of(approval), waited
            if lease.lost:
                raise LeaseLostError(lease.task_id)
            if lease.cancelled:
                return Decision("cancelled", {}, None), waited
            if asyncio.get_running_loop().time() >= hold_until:
                await self._release(lease)
            lease.changed.clear()
            await self._heartbeat(lease)

    async def _release(self, lease: _Lease) -> None:
        """Give the task back while the decision is pending; if it was decided meanwhile
        (the task is running again), the release requeues it and the claim has the answer."""
        await self._write(lease, "/release", {})
        lease.lost = True  # the token is dead now: stop heartbeating
        raise _ReleasedError(lease.task_id)

    async def _heartbeats(self, lease: _Lease) -> None:
        while not lease.lost:
            await asyncio.sleep(self.lease_seconds / 3)
            with contextlib.suppress(httpx.HTTPError, ProtocolError):
                await self._heartbeat(lease)

    async def _heartbeat(self, lease: _Lease) -> None:
        try:
            signals = await self._request(
                "POST",
                f"/api/worker/tasks/{lease.task_id}/heartbeat",
                {"leaseToken": lease.token, "leaseSeconds": self.lease_seconds},
            )
        except ProtocolError as error:
            if error.code == "LEASE_LOST":
                lease.lost = True
            raise
        data = signals["data"]
        cancel = data["cancel"]
        lease.cancel_mode = str(cancel.get("mode") or "immediate") if cancel else None
        lease.approvals = list(data["approvals"])
        lease.changed.set()
        if any(a["status"] == "pending" for a in lease.approvals):
            await asyncio.sleep(min(1.0, self.lease_seconds / 3))

    # the wire

    async def _write(self, lease: _Lease, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """One write under the lease: the next sequence, retried with the same sequence, so
        a retry the server already applied is acknowledged rather than applied twice."""
        lease.sequence += 1
        payload = {"leaseToken": lease.token, "sequence": lease.sequence, **body}
        try:
            answer = await self._request(
                "POST", f"/api/worker/tasks/{lease.task_id}{path}", payload
            )
        except ProtocolError as error:
            if error.code == "LEASE_LOST":
                lease.lost = True
                raise LeaseLostError(lease.task_id) from error
            raise
        return dict(answer["data"])

    async def _request(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._data(await self._send(method, path, body), whole=True))

    async def _send(self, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
        delay = 0.2
        for attempt in range(8):
            try:
                response = await self._http.request(method, path, json=body)
            except httpx.TransportError:
                if attempt == 7:
                    raise
            else:
                if response.status_code not in RETRY_STATUSES or attempt == 7:
                    return response
            # Exponential backoff with jitter: many workers must not retry in step.
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 10.0)
        raise AssertionError("unreachable")

    @staticmethod
    def _data(response: httpx.Response, *, whole: bool = False) -> Any:
        body = response.json()
        if not body.get("success"):
            error = body.get("error", {})
            raise ProtocolError(
                response.status_code, str(error.get("code")), str(error.get("message"))
            )
        return body if whole else body["data"]
