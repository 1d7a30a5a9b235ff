"""Declared actions: each executor names its actions, a JSON Schema for their params and how
far a completed step can be undone. Plans and changed parameters are checked against those
schemas with `jsonschema` (draft 2020-12), so every executor, built-in or remote, is held to
the same rules and a violation names the exact field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError

from domain.vocabulary import Reversibility
from engine.approval_policy import parse_approval_policy
from engine.executor import PlanError, StepSpec

MAX_STEPS = 100
STEP_KEYS = {"name", "action", "params", "requiresApproval", "approval", "description"}


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One action an executor can run; `validator` is compiled once from the schema."""

    name: str
    parameter_schema: dict[str, Any]
    reversibility: Reversibility
    description: str | None = None
    validator: Draft202012Validator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "validator", Draft202012Validator(self.parameter_schema))

    def declaration(self) -> dict[str, Any]:
        """The JSON form a worker registers and the API stores."""
        return {
            "name": self.name,
            "parameterSchema": self.parameter_schema,
            "reversibility": self.reversibility.upper(),
            "description": self.description,
        }


def check_parameter_schema(schema: Any, *, where: str) -> dict[str, Any]:
    """A registered schema must itself be a valid draft 2020-12 schema of an object."""
    if not isinstance(schema, dict):
        raise PlanError(f"{where} must be a JSON Schema object", field=where)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        raise PlanError(
            f"{where}{_path_suffix(error.absolute_path)} is not a valid JSON Schema "
            f"(draft 2020-12): {error.message}",
            field=where,
        ) from error
    return schema


def check_params(action: ActionSpec, params: Any, *, where: str) -> None:
    """Raise `PlanError` naming the first offending field of `params` (at `where`)."""
    error = _first_error(action.validator, params)
    if error is None:
        return
    path = where + _path_suffix(error.absolute_path)
    if error.validator == "required":
        missing = _missing_property(error)
        if missing is not None:
            path = f"{path}.{missing}"
            raise PlanError(f"{path} is required by action {action.name!r}", field=path)
    raise PlanError(f"{path} is invalid for action {action.name!r}: {error.message}", field=path)


def parse_steps(
    raw_steps: Any, actions: Mapping[str, ActionSpec], *, where: str = "context.steps"
) -> list[StepSpec]:
    """An explicit plan (a list of step objects), each step's params checked against its
    action's schema; the first mistake is raised as a `PlanError` naming its path."""
    if not isinstance(raw_steps, list) or not raw_steps:
        raise PlanError(f"{where} must be a non-empty list of steps", field=where)
    if len(raw_steps) > MAX_STEPS:
        raise PlanError(f"{where} has more than {MAX_STEPS} steps", field=where)
    return [parse_step(raw, actions, where=f"{where}[{i}]") for i, raw in enumerate(raw_steps)]


def parse_step(raw: Any, actions: Mapping[str, ActionSpec], *, where: str) -> StepSpec:
    if not isinstance(raw, dict):
        raise PlanError(f"{where} must be an object", field=where)
    unknown = set(raw) - STEP_KEYS
    if unknown:
        raise PlanError(f"{where} has unknown keys: {', '.join(sorted(unknown))}", field=where)
    action_name = raw.get("action")
    action = actions.get(action_name) if isinstance(action_name, str) else None
    if action is None:
        raise PlanError(
            f"{where}.action {action_name!r} is not a known action; use one of "
            + ", ".join(actions),
            field=f"{where}.action",
        )
    name = raw.get("name", action.name)
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise PlanError(
            f"{where}.name must be a non-empty string of at most 200 characters",
            field=f"{where}.name",
        )
    params = raw.get("params", {})
    if not isinstance(params, dict):
        raise PlanError(f"{where}.params must be an object", field=f"{where}.params")
    requires_approval = raw.get("requiresApproval", False)
    if not isinstance(requires_approval, bool):
        raise PlanError(
            f"{where}.requiresApproval must be true or false", field=f"{where}.requiresApproval"
        )
    approval = None
    if raw.get("approval") is not None:
        if raw.get("requiresApproval") is False:
            raise PlanError(
                f"{where}.approval needs requiresApproval: true (or leave it out)",
                field=f"{where}.requiresApproval",
            )
        approval = parse_approval_policy(raw["approval"], where=f"{where}.approval")
        requires_approval = True
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        raise PlanError(f"{where}.description must be a string", field=f"{where}.description")
    check_params(action, params, where=f"{where}.params")
    return StepSpec(
        name=name.strip(),
        action=action.name,
        params=params,
        requires_approval=requires_approval,
        description=description,
        reversibility=action.reversibility,
        approval=approval,
    )


def reversibility_of(text: Any, *, where: str) -> Reversibility:
    """`REVERSIBLE` / `reversible` → the stored (lower-case) form."""
    try:
        return Reversibility(text.lower() if isinstance(text, str) else text)
    except ValueError:
        raise PlanError(
            f"{where} must be one of {', '.join(r.upper() for r in Reversibility)}", field=where
        ) from None


def _first_error(validator: Draft202012Validator, instance: Any) -> ValidationError | None:
    # The shallowest error first (then schema order), so the message names the outer mistake.
    errors = list(validator.iter_errors(instance))
    return min(errors, key=lambda e: len(e.absolute_path)) if errors else None


def _missing_property(error: ValidationError) -> str | None:
    required = error.validator_value
    if isinstance(error.instance, dict) and isinstance(required, list):
        for name in required:
            if isinstance(name, str) and name not in error.instance:
                return name
    return None


def _path_suffix(path: Any) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text
