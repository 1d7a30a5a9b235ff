"""Artifacts written by a worker (issue 12): the built-in `note` action, run by
`agentwire worker`, stores a value on the task; any worker may. The same change the
in-process step context makes (engine/step_context.py), under the lease's fencing."""

from __future__ import annotations

import uuid
from typing import Any

from resolvers.context import RequestContext
from resolvers.errors import ValidationFailedError
from resolvers.validation import MAX_CONTEXT_BYTES, check_json_object, clean_text
from resolvers.worker import Ack, write_under_lease

MAX_KEY_CHARS = 200
MAX_ARTIFACTS = 100


def _key(value: Any) -> str:
    # The text rules of every other field (no control characters, not blank, a length);
    # the key is kept as written, as the in-process `note` keeps it.
    clean_text(value, field="key", max_chars=MAX_KEY_CHARS, required=True)
    assert isinstance(value, str)
    return value


async def write_artifact(
    ctx: RequestContext,
    *,
    task_id: uuid.UUID,
    token: Any,
    sequence: Any,
    key: Any,
    value: Any = None,
    remove: Any = False,
) -> Ack:
    """Store `value` as the task's artifact `key` (or remove it); answers whether it existed
    and its previous value, which is what the step's rollback needs to restore it."""
    name = _key(key)
    if not isinstance(remove, bool):
        raise ValidationFailedError("remove must be true or false", field="remove")
    if remove and value is not None:
        raise ValidationFailedError("remove goes without a value", field="value")
    check_json_object({"value": value}, field="value", max_bytes=MAX_CONTEXT_BYTES)
    async with write_under_lease(ctx, task_id, token, sequence) as write:
        artifacts = dict(write.tx.task.artifacts)
        existed, previous = name in artifacts, artifacts.get(name)
        if not write.applied:
            # A retry: the first answer's `previous` is gone; say what is there now.
            return Ack(False, sequence, {"artifact": {"key": name, "value": previous}})
        if remove:
            artifacts.pop(name, None)
        else:
            if not existed and len(artifacts) >= MAX_ARTIFACTS:
                raise ValidationFailedError(
                    f"a task holds at most {MAX_ARTIFACTS} artifacts", field="key"
                )
            artifacts[name] = value
        write.tx.task.artifacts = artifacts
        return Ack(
            True,
            sequence,
            {"artifact": {"key": name, "existed": existed, "previous": previous}},
        )
