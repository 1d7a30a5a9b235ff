"""Reading a request: JSON bodies (size, media type, syntax, types) and declared parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from resolvers.errors import ValidationFailedError
from resolvers.validation import parse_id
from rest_compat.errors import TransportError

MAX_BODY_BYTES = 256 * 1024
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Param:
    """A path, query or header parameter: parsed by `parse_param` and documented from `schema`."""

    name: str
    location: Literal["path", "query", "header"]
    schema: dict[str, Any]
    description: str
    required: bool = False
    example: Any = None
    default: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def _invalid(param: Param, message: str) -> ValidationFailedError:
    return ValidationFailedError(f"{param.name} {message}", field=param.name)


def _number(param: Param, raw: str) -> float | int:
    schema = param.schema
    try:
        value: float | int = int(raw) if schema["type"] == "integer" else float(raw)
    except ValueError:
        kind = "a whole number" if schema["type"] == "integer" else "a number"
        raise _invalid(param, f"must be {kind}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise _invalid(param, "must be a finite number")
    low, high = schema.get("minimum"), schema.get("maximum")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"from {low:g} to {high:g}" if high is not None else f"at least {low:g}"
        raise _invalid(param, f"must be {bounds}")
    return value


def _datetime(param: Param, raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise _invalid(param, "must be an ISO 8601 date or date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_param(param: Param, raw: str | None) -> Any:
    """The typed value of one parameter, or its default; a bad value is a 422 naming it."""
    if raw is None or raw == "":
        if param.required:
            raise _invalid(param, "is required")
        return param.default
    schema = param.schema
    if schema.get("type") in ("integer", "number"):
        return _number(param, raw)
    if "enum" in schema and raw not in schema["enum"]:
        raise _invalid(param, f"must be one of {', '.join(schema['enum'])}")
    if schema.get("format") == "date-time":
        return _datetime(param, raw)
    if schema.get("format") == "uuid":
        return parse_id(raw, field=param.name)
    if len(raw) > schema.get("maxLength", 10_000):
        raise _invalid(param, f"must be at most {schema['maxLength']} characters")
    return raw


def _refuse_unknown_query(request: Request, params: tuple[Param, ...]) -> None:
    """A query parameter the route does not declare is a 422 naming it, never ignored:
    a misspelt filter (`?stauts=failed`) would otherwise answer with every task."""
    known = {p.name for p in params if p.location == "query"}
    unknown = sorted({name for name in request.query_params if name not in known})
    if unknown:
        accepted = ", ".join(sorted(known)) or "none"
        raise ValidationFailedError(
            f"unknown query parameter {', '.join(unknown)}; this route accepts: {accepted}",
            field=unknown[0],
            hint=f"remove it, or check its spelling against: {accepted}",
            details=[{"field": name, "message": "unknown query parameter"} for name in unknown],
        )


def read_params(request: Request, params: tuple[Param, ...]) -> dict[str, Any]:
    _refuse_unknown_query(request, params)
    values: dict[str, Any] = {}
    for param in params:
        if param.location == "path":
            raw = request.path_params.get(param.name)
        elif param.location == "query":
            raw = request.query_params.get(param.name)
        else:
            raw = request.headers.get(param.name)
        values[param.name] = parse_param(param, raw)
    return values


def is_json_media_type(content_type: str) -> bool:
    """`application/json` or any `application/*+json` type."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def _read_limited(request: Request) -> bytes:
    too_big = TransportError(
        413,
        "PAYLOAD_TOO_LARGE",
        f"the request body is larger than {MAX_BODY_BYTES} bytes",
        hint="send a smaller body; context is limited to 64 KiB",
    )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


def is_form_post(request: Request) -> bool:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media == FORM_MEDIA_TYPE


async def read_form(request: Request) -> dict[str, str]:
    """An HTML form's fields (the last value of each), within the body size limit."""
    raw = await _read_limited(request)
    try:
        pairs = parse_qsl(raw.decode(), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as error:
        raise ValidationFailedError("the form body is malformed", field="body") from error
    return dict(pairs)


async def read_body(request: Request, model: type[M], *, required: bool) -> M:
    """The body as `model`: 413 too big, 415 not JSON, 400 malformed, 422 wrong shape."""
    raw = await _read_limited(request)
    if not raw.strip():
        if required:
            raise ValidationFailedError("a JSON request body is required", field="body")
        return model.model_validate({})
    if not is_json_media_type(request.headers.get("content-type", "")):
        raise TransportError(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "the request body must be JSON",
            hint="send 'Content-Type: application/json'",
        )
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise TransportError(
            400,
            "MALFORMED_JSON",
            f"the request body is not valid JSON: {error.msg} at position {error.pos}",
            hint="check the JSON syntax of the body",
        ) from None
    if not isinstance(document, dict):
        raise ValidationFailedError("the request body must be a JSON object", field="body")
    try:
        return model.model_validate(document)
    except ValidationError as error:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
            for e in error.errors(include_url=False, include_input=False)
        ]
        first = details[0]
        raise ValidationFailedError(
            f"{first['field']}: {first['message']}", field=first["field"], details=details
        ) from None
