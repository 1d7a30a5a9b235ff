"""The built-in executor's planning rules."""

from __future__ import annotations

import pytest

from engine.builtin import BuiltinExecutor
from engine.executor import PlanError


@pytest.fixture
def executor() -> BuiltinExecutor:
    return BuiltinExecutor()


def test_text_without_steps_becomes_up_to_three_waits(executor: BuiltinExecutor) -> None:
    plan = executor.plan("Fetch data. Clean it. Chart it. Mail it", {})
    assert [s.name for s in plan] == ["Fetch data", "Clean it", "Chart it"]
    assert {s.action for s in plan} == {"wait"}
    assert not any(s.requires_approval for s in plan)


def test_explicit_steps_keep_order_params_and_gates(executor: BuiltinExecutor) -> None:
    plan = executor.plan(
        "x",
        {
            "steps": [
                {"name": "a", "action": "note", "params": {"key": "k", "value": 1}},
                {"name": "b", "action": "wait", "params": {"ms": 10}, "requiresApproval": True},
                {"action": "fail", "params": {"message": "no"}},
            ]
        },
    )
    assert [(s.name, s.action, s.requires_approval) for s in plan] == [
        ("a", "note", False),
        ("b", "wait", True),
        ("fail", "fail", False),
    ]
    assert [s.reversibility for s in plan] == ["reversible", "reversible", "irreversible"]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([], "context.steps must be a non-empty list"),
        ("nope", "context.steps must be a non-empty list"),
        ([{"action": "launch"}], "context.steps[0].action 'launch' is not a known action"),
        (
            [{"action": "wait", "params": {"ms": -1}}],
            "context.steps[0].params.ms is invalid for action 'wait': "
            "-1 is less than the minimum of 0",
        ),
        (
            [{"action": "wait", "params": {"ms": True}}],
            "context.steps[0].params.ms is invalid for action 'wait': True is not of type 'number'",
        ),
        (
            [{"action": "note", "params": {"value": 1}}],
            "context.steps[0].params.key is required by action 'note'",
        ),
        (
            [{"action": "note", "params": {"key": "", "value": 1}}],
            "context.steps[0].params.key is invalid for action 'note': '' should be non-empty",
        ),
        (
            [{"action": "note", "params": {"key": "k"}}],
            "context.steps[0].params.value is required by action 'note'",
        ),
        (
            [{"action": "announce", "params": {}}],
            "context.steps[0].params.message is required by action 'announce'",
        ),
        ([{"action": "wait", "requiresApproval": "yes"}], "requiresApproval must be true or false"),
        ([{"action": "wait", "colour": "red"}], "context.steps[0] has unknown keys: colour"),
        ([{"action": "wait", "name": ""}], "context.steps[0].name must be a non-empty string"),
        (["wait"], "context.steps[0] must be an object"),
        ([{"action": "wait"}] * 101, "more than 100 steps"),
    ],
)
def test_bad_step_specs_are_refused_with_the_field_named(
    executor: BuiltinExecutor, steps: object, message: str
) -> None:
    with pytest.raises(PlanError) as error:
        executor.plan("x", {"steps": steps})
    assert message in str(error.value)


def test_every_built_in_action_declares_a_draft_2020_12_schema(executor: BuiltinExecutor) -> None:
    from jsonschema import Draft202012Validator

    for action in executor.actions.values():
        Draft202012Validator.check_schema(action.parameter_schema)
    assert {a: s.reversibility for a, s in executor.actions.items()} == {
        "wait": "reversible",
        "note": "reversible",
        "announce": "irreversible",
        "fail": "irreversible",
    }
