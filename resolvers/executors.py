"""Executor declarations: a worker registers its executor's actions; submit and approvals
check plans and parameters against them (one catalogue for built-in and remote executors)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.engine import write_session
from db.models import Executor
from db.repositories.audit import record_audit
from db.repositories.executors import get_executor, lock_executor, save_executor
from engine.actions import ActionSpec, check_parameter_schema, check_params, reversibility_of
from engine.executor import PlanError
from resolvers.context import RequestContext
from resolvers.errors import ConflictError, ValidationFailedError
from resolvers.limits import require_scope
from resolvers.validation import MAX_CONTEXT_BYTES, check_json_object

WORKER_SCOPE = "worker"
DEFAULT_EXECUTOR = "builtin"
MAX_ACTIONS = 100
NAME_PATTERN = r"^[a-z][a-z0-9_.-]{0,63}$"
_NAME = re.compile(NAME_PATTERN)
_ACTION_KEYS = {"name", "parameterSchema", "reversibility", "description"}
# Compiled declarations of registered executors, keyed by (name, version): a re-registration
# bumps the version, so a stale entry is never used; bounded so names cannot grow memory.
_COMPILED: dict[tuple[str, int], dict[str, ActionSpec]] = {}
_COMPILED_LIMIT = 256


@dataclass(frozen=True, slots=True)
class RegisteredExecutor:
    """What registration answers: the declaration as stored."""

    name: str
    version: int
    actions: list[dict[str, Any]]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ExecutorInput:
    name: Any
    actions: Any


def require_worker(ctx: RequestContext) -> None:
    """Only a credential with the `worker` scope may call the worker API (audited refusal)."""
    require_scope(ctx, WORKER_SCOPE)


def _check_name(value: Any, *, field: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValidationFailedError(
            f"{field} must be 1 to 64 characters: a lower-case letter, then letters, digits, "
            "'_', '.' or '-'",
            field=field,
            hint="for example 'file-organiser'",
        )
    return value


def parse_actions(raw: Any) -> list[ActionSpec]:
    """The declared actions, each schema itself checked as draft 2020-12."""
    if not isinstance(raw, list) or not raw:
        raise ValidationFailedError("actions must be a non-empty list", field="actions")
    if len(raw) > MAX_ACTIONS:
        raise ValidationFailedError(
            f"actions has {len(raw)} entries; the limit is {MAX_ACTIONS}", field="actions"
        )
    specs: dict[str, ActionSpec] = {}
    for index, item in enumerate(raw):
        where = f"actions[{index}]"
        if not isinstance(item, dict):
            raise ValidationFailedError(f"{where} must be an object", field=where)
        unknown = set(item) - _ACTION_KEYS
        if unknown:
            raise ValidationFailedError(
                f"{where} has unknown keys: {', '.join(sorted(unknown))}", field=where
            )
        name = _check_name(item.get("name"), field=f"{where}.name")
        if name in specs:
            raise ValidationFailedError(
                f"{where}.name {name!r} is declared twice", field=f"{where}.name"
            )
        description = item.get("description")
        if description is not None and (
            not isinstance(description, str) or len(description) > 2000
        ):
            raise ValidationFailedError(
                f"{where}.description must be a string of at most 2000 characters",
                field=f"{where}.description",
            )
        try:
            schema = check_parameter_schema(
                item.get("parameterSchema"), where=f"{where}.parameterSchema"
            )
            reversibility = reversibility_of(
                item.get("reversibility"), where=f"{where}.reversibility"
            )
        except PlanError as error:
            raise ValidationFailedError(str(error), field=error.field) from error
        specs[name] = ActionSpec(name, schema, reversibility, description)
    return list(specs.values())


async def register_executor(ctx: RequestContext, *, data: ExecutorInput) -> RegisteredExecutor:
    """Create or replace an executor's declaration. The first worker key's user owns the
    name; another user's key, or a built-in name, is refused with 409."""
    require_worker(ctx)
    name = _check_name(data.name, field="name")
    check_json_object({"actions": data.actions}, field="body", max_bytes=MAX_CONTEXT_BYTES)
    specs = parse_actions(data.actions)
    if name in ctx.engine.declared_executors:
        raise ConflictError(
            f"executor {name!r} is built in and cannot be registered",
            hint="choose another name for your executor",
        )
    async with write_session(ctx.sessions) as session:
        existing = await lock_executor(session, name)
        if existing is not None and existing.owner_id != ctx.principal.user_id:
            raise ConflictError(
                f"executor {name!r} is registered by another user",
                hint="choose another name, or use a worker key of the user that registered it",
            )
        row = await save_executor(
            session,
            existing,
            name=name,
            owner_id=ctx.principal.user_id,
            actions=[spec.declaration() for spec in specs],
        )
        record_audit(
            session,
            actor=ctx.principal.actor,
            action="executor.register",
            target=f"executor:{name}",
            details={"version": row.version, "actions": [s.name for s in specs]},
            request_id=ctx.request_id,
        )
    return RegisteredExecutor(row.name, row.version, list(row.actions), row.updated_at)


def compiled_actions(row: Executor) -> dict[str, ActionSpec]:
    key = (row.name, row.version)
    cached = _COMPILED.get(key)
    if cached is None:
        cached = {
            item["name"]: ActionSpec(
                item["name"],
                item["parameterSchema"],
                reversibility_of(item["reversibility"], where="reversibility"),
                item.get("description"),
            )
            for item in row.actions
        }
        if len(_COMPILED) >= _COMPILED_LIMIT:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[key] = cached
    return cached


async def actions_of(ctx: RequestContext, name: str) -> Mapping[str, ActionSpec] | None:
    """The actions of the executor `name` (built-in ones from code), None when unknown."""
    declared = ctx.engine.declared_executors.get(name)
    if declared is not None:
        return declared
    async with ctx.sessions() as session:
        row = await get_executor(session, name)
    return compiled_actions(row) if row is not None else None


def executor_name_of(context: Mapping[str, Any]) -> str:
    name = context.get("executor", DEFAULT_EXECUTOR)
    return _check_name(name, field="context.executor")


async def check_modified_parameters(
    ctx: RequestContext, *, executor: str, action: str, parameters: dict[str, Any]
) -> None:
    """Changed parameters must satisfy the step's declared schema (VALIDATION naming the path)."""
    actions = await actions_of(ctx, executor)
    spec = actions.get(action) if actions is not None else None
    if spec is None:
        return
    try:
        check_params(spec, parameters, where="modifiedParameters")
    except PlanError as error:
        raise ValidationFailedError(str(error), field=error.field) from error
