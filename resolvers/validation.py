"""Input rules shared by every transport."""

from __future__ import annotations

import math
import re
import uuid
from typing import Any

import orjson

from resolvers.errors import ValidationFailedError

MAX_TASK_CHARS = 10_000
MAX_CONTEXT_BYTES = 64 * 1024
MAX_KEY_CHARS = 255
PRIORITY_RANGE = (-100, 100)
# C0 controls except tab, newline and carriage return, plus DEL.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parse_id(value: str, *, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError) as error:
        raise ValidationFailedError(
            f"{field} is not a valid id: expected a UUID such as "
            "'3f2b8c1e-9d4a-4e6b-8f1a-2c3d4e5f6a7b'",
            field=field,
        ) from error


def clean_text(value: object, *, field: str, max_chars: int, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise ValidationFailedError(f"{field} is required", field=field)
        return None
    if not isinstance(value, str):
        # Callers pass values from inside free JSON (a worker's `error.code`) unchecked.
        raise ValidationFailedError(f"{field} must be a string", field=field)
    if _CONTROL.search(value):
        raise ValidationFailedError(f"{field} contains control characters", field=field)
    stripped = value.strip()
    if required and not stripped:
        raise ValidationFailedError(f"{field} must not be empty", field=field)
    if len(value) > max_chars:
        raise ValidationFailedError(
            f"{field} is {len(value)} characters long; the limit is {max_chars}", field=field
        )
    return stripped


def check_json_object(value: Any, *, field: str, max_bytes: int) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationFailedError(f"{field} must be a JSON object", field=field)
    try:
        size = len(orjson.dumps(value))
    except TypeError as error:
        raise ValidationFailedError(f"{field} is not valid JSON", field=field) from error
    if size > max_bytes:
        raise ValidationFailedError(
            f"{field} is {size} bytes as JSON; the limit is {max_bytes} bytes", field=field
        )
    where = _nul_path(value, field)
    if where is not None:
        # PostgreSQL cannot store NUL in text or JSONB, and no client means to send it.
        raise ValidationFailedError(f"{where} contains a NUL character", field=where)
    where = _non_finite_path(value, field)
    if where is not None:
        # 1e400 parses as infinity: JSON has no such number and JSONB cannot store it.
        raise ValidationFailedError(
            f"{where} is not a finite number: JSON numbers must be finite (1e400 overflows)",
            field=where,
        )
    return value


def _non_finite_path(value: Any, path: str) -> str | None:
    """The path of the first number inside `value` that is infinite or NaN."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite_path(item, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _non_finite_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _nul_path(value: Any, path: str) -> str | None:
    """The path of the first string (or key) inside `value` that holds a NUL character."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in str(key):
                return path
            found = _nul_path(item, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def check_priority(value: int | None) -> int:
    if value is None:
        return 0
    low, high = PRIORITY_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationFailedError(
            f"priority must be a whole number from {low} to {high}", field="priority"
        )
    return value
