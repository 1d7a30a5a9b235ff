"""Who may decide an approval request, and how many must agree (docs/approvals.md).

A step (or a worker's approval request) may carry
`approval: {required: N, roles: [..], allowSelf: bool}`. The policy is copied onto the
request when it opens, so a decision is always judged by the rules it was asked under.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from engine.executor import PlanError

MAX_REQUIRED = 10
MAX_ROLES = 20
POLICY_KEYS = {"required", "roles", "allowSelf"}
ROLE_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# With no `roles`, the owner and admins decide, as before approval policies existed.
ADMIN_ROLE = "admin"


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    required: int = 1
    roles: tuple[str, ...] = ()
    allow_self: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"required": self.required, "roles": list(self.roles), "allowSelf": self.allow_self}

    @classmethod
    def from_json(cls, raw: dict[str, Any] | None) -> ApprovalPolicy:
        """The stored form; a request opened before policies existed has none: the default."""
        if not raw:
            return DEFAULT_POLICY
        return cls(
            required=int(raw.get("required", 1)),
            roles=tuple(raw.get("roles") or ()),
            allow_self=bool(raw.get("allowSelf", True)),
        )

    def refusal(
        self, *, user_id: uuid.UUID, roles: Iterable[str], owner_id: uuid.UUID
    ) -> str | None:
        """Why this person may not decide, or None when they may."""
        is_owner = user_id == owner_id
        held = set(roles)
        if is_owner and not self.allow_self:
            return "this step's approval policy does not let the task's owner decide it"
        if self.roles:
            if held.isdisjoint(self.roles):
                return "deciding needs one of the roles " + ", ".join(self.roles)
            return None
        if is_owner or ADMIN_ROLE in held:
            return None
        return "only the task's owner or an admin may decide it"


DEFAULT_POLICY = ApprovalPolicy()


def parse_approval_policy(raw: Any, *, where: str) -> ApprovalPolicy:
    """`{required, roles, allowSelf}` checked; a mistake names its path."""
    if not isinstance(raw, dict):
        raise PlanError(f"{where} must be an object with required, roles, allowSelf", field=where)
    unknown = set(raw) - POLICY_KEYS
    if unknown:
        raise PlanError(f"{where} has unknown keys: {', '.join(sorted(unknown))}", field=where)
    required = raw.get("required", 1)
    if (
        not isinstance(required, int)
        or isinstance(required, bool)
        or not 1 <= required <= MAX_REQUIRED
    ):
        raise PlanError(
            f"{where}.required must be a whole number from 1 to {MAX_REQUIRED}",
            field=f"{where}.required",
        )
    roles = raw.get("roles", [])
    if (
        not isinstance(roles, list)
        or len(roles) > MAX_ROLES
        or not all(isinstance(r, str) and ROLE_PATTERN.match(r) for r in roles)
    ):
        raise PlanError(
            f"{where}.roles must be a list of at most {MAX_ROLES} role names "
            "(letters, digits, _ . : -; up to 64 characters each)",
            field=f"{where}.roles",
        )
    allow_self = raw.get("allowSelf", True)
    if not isinstance(allow_self, bool):
        raise PlanError(f"{where}.allowSelf must be true or false", field=f"{where}.allowSelf")
    return ApprovalPolicy(
        required=required, roles=tuple(dict.fromkeys(roles)), allow_self=allow_self
    )
