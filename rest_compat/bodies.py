"""Request bodies: their JSON types, checked strictly here; every rule beyond types is a resolver's.

The ranges in `json_schema_extra` document the resolvers' own checks; they are
not enforced twice, so the message a client gets always comes from one place.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from domain.vocabulary import InputPolicy
from resolvers.validation import MAX_KEY_CHARS, MAX_TASK_CHARS, PRIORITY_RANGE

UUID_SCHEMA: dict[str, Any] = {"type": "string", "format": "uuid"}

# resolvers/validation.clean_text refuses C0 controls other than tab, CR and LF, and DEL;
# a required text must also hold more than white space.
_ALLOWED = r"[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]"
NO_CONTROL_PATTERN = rf"^{_ALLOWED}*$"
NOT_BLANK_PATTERN = rf"^{_ALLOWED}*[^\s\u0000-\u001f\u007f]{_ALLOWED}*$"


def text_schema(max_chars: int, *, required: bool = False) -> dict[str, Any]:
    """What `clean_text(..., max_chars=, required=)` accepts, as JSON Schema keywords."""
    if required:
        return {"minLength": 1, "maxLength": max_chars, "pattern": NOT_BLANK_PATTERN}
    return {"maxLength": max_chars, "pattern": NO_CONTROL_PATTERN}


# Any JSON value but null (`input`, which must be present).
ANY_BUT_NULL: dict[str, Any] = {
    "anyOf": [
        {"type": "object"},
        {"type": "array"},
        {"type": "string"},
        {"type": "number"},
        {"type": "boolean"},
    ]
}


class Body(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True
    )


class InputBody(Body):
    """Input for a running task's worker."""

    input: Any = Field(
        description="Any JSON value but null, up to 64 KiB; no string in it (keys included) "
        "may hold a NUL character.",
        examples=[{"answer": "use the blue one"}],
        json_schema_extra=ANY_BUT_NULL,
    )
    policy: str | None = Field(
        default=None,
        description="While an approval is pending: `queue` (default) keeps the input for "
        "after the decision; `reject_pending` rejects the approval and delivers it now.",
        json_schema_extra={"enum": [p.value for p in InputPolicy]},
    )


class SubmitTaskBody(Body):
    """A new task."""

    task: str = Field(
        description="What to do.",
        json_schema_extra=text_schema(MAX_TASK_CHARS, required=True),
        examples=["Summarise the report"],
    )
    priority: int | None = Field(
        default=None,
        description="Higher runs first.",
        json_schema_extra={"minimum": PRIORITY_RANGE[0], "maximum": PRIORITY_RANGE[1]},
    )
    conversation_id: str | None = Field(
        default=None,
        description="Groups tasks of one conversation.",
        json_schema_extra=text_schema(MAX_KEY_CHARS),
    )
    context: dict[str, Any] | None = Field(
        default=None,
        description="Up to 64 KiB of JSON. `steps` gives an explicit plan: "
        '[{"name", "action": "wait"|"note"|"fail", "params", "requiresApproval"}]; '
        "`onReject` (skip|cancel), `onApprovalTimeout` (reject|cancel|approve), "
        "`approvalTimeoutSeconds`.",
        examples=[
            {
                "steps": [
                    {"name": "first", "action": "note", "params": {"key": "a", "value": 1}},
                    {
                        "name": "second",
                        "action": "note",
                        "params": {"key": "b", "value": 2},
                        "requiresApproval": True,
                    },
                ]
            }
        ],
    )


class ApproveBody(Body):
    """An answer to a pending approval request."""

    # `modifiedParameters` only goes with `approved: true`.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"properties": {"approved": {"enum": [True]}}},
                {"not": {"required": ["modifiedParameters"]}},
                {"properties": {"modifiedParameters": {"nullable": True, "enum": [None]}}},
            ]
        }
    )

    approval_id: str = Field(
        description="The id of the pending approval request.",
        json_schema_extra={"format": "uuid"},
        examples=["3f2b8c1e-9d4a-4e6b-8f1a-2c3d4e5f6a7b"],
    )
    approved: bool = Field(description="true runs the step; false rejects it.")
    message: str | None = Field(
        default=None,
        description="A note kept with the decision.",
        json_schema_extra=text_schema(2000),
    )
    modified_parameters: dict[str, Any] | None = Field(
        default=None, description="Approve, but run the step with these parameters instead."
    )


class BatchDecisionBody(ApproveBody):
    """One answer of a batch."""

    task_id: str = Field(
        description="The task of the approval request.",
        json_schema_extra={"format": "uuid"},
        examples=["3f2b8c1e-9d4a-4e6b-8f1a-2c3d4e5f6a7b"],
    )


class ApproveBatchBody(Body):
    """Several answers, recorded together (docs/approvals.md, Batches)."""

    decisions: list[BatchDecisionBody] = Field(
        description="1 to 50 answers; each approval at most once.",
        json_schema_extra={"minItems": 1, "maxItems": 50},
    )
    atomic: bool = Field(
        default=True,
        description="true: all or nothing, the first refusal is the error; false: one result "
        "per answer.",
    )
    idempotency_key: str | None = Field(
        default=None,
        description="A repeat with the same key returns the first result and changes nothing.",
        json_schema_extra=text_schema(255),
    )


class UndoBody(Body):
    """Which steps to roll back; the body may be omitted."""

    step_id: str | None = Field(
        default=None,
        description="Roll back down to this step, inclusive; the last completed step when omitted.",
        json_schema_extra={"format": "uuid"},
    )


RoleName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


class ApprovalPolicyBody(Body):
    """Who decides an approval request and how many must agree (docs/approvals.md)."""

    required: int = Field(default=1, ge=1, le=10, description="Distinct approvals needed.")
    roles: list[RoleName] = Field(
        default_factory=list,
        max_length=20,
        description="Who may decide: holders of these roles; empty: the owner and admins.",
    )
    allow_self: bool = Field(default=True, description="Whether the task's owner may decide.")

    def policy(self) -> dict[str, Any]:
        return {"required": self.required, "roles": list(self.roles), "allowSelf": self.allow_self}
