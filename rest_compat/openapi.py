"""The OpenAPI 3.0 document, built from the operation declarations and the pydantic models.

OpenAPI 3.0 (not 3.1) because the bundled Swagger UI (4.x) renders only 3.0; pydantic's
JSON Schema is rewritten into the 3.0 dialect (`nullable`, `example`, no `const`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from rest_compat.examples import ERROR_EXAMPLES
from rest_compat.routing import Operation
from rest_compat.views import View

PREFIX = "/api"
REF = "#/components/schemas/{model}"
NOT_THREE_ZERO = ("const", "examples", "$defs")

DESCRIPTION = """The REST compatibility layer of agentwire: the original specification's
`/api/agent` routes, mapped onto the same resolvers as GraphQL (`/graphql`).

Every response is an envelope: `{"success": true, "data": ...}` or
`{"success": false, "error": {code, category, message, hint, details, requestId}}`.
Every response carries `X-Request-ID`; an error's `requestId` equals it.

Real-time updates: the WebSocket `/api/agent/{taskId}/updates?after=N` (see docs/rest.md),
Server-Sent Events at `/api/agent/{taskId}/stream`, or long-polling at
`/api/agent/{taskId}/events`.
"""


def _to_openapi_30(node: Any) -> Any:
    """Rewrite a JSON Schema (2020-12, as pydantic writes it) into OpenAPI 3.0's dialect."""
    if isinstance(node, list):
        return [_to_openapi_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _to_openapi_30(v) for k, v in node.items() if k not in NOT_THREE_ZERO}
    if "const" in node:
        out["enum"] = [node["const"]]
    if node.get("examples"):
        out["example"] = _to_openapi_30(node["examples"][0])
    for key in ("anyOf", "oneOf"):
        variants = out.get(key)
        if not variants:
            continue
        # Children are already rewritten: a `{"type": "null"}` variant is now `{"nullable": true}`.
        others = [v for v in variants if v != {"nullable": True}]
        if len(others) == len(variants):
            continue
        del out[key]
        out["nullable"] = True
        if len(others) == 1:
            only = others[0]
            if "$ref" in only:
                out["allOf"] = [only]  # 3.0 ignores siblings of a bare $ref
            else:
                out.update(only)
        elif others:
            out[key] = others
    if out.get("type") == "null":
        del out["type"]
        out["nullable"] = True
    return out


def component_schemas(bodies: list[type[BaseModel]], views: list[type[View]]) -> dict[str, Any]:
    pairs: list[tuple[type[BaseModel], Any]] = [(m, "validation") for m in bodies]
    pairs += [(m, "serialization") for m in views]
    _, top = models_json_schema(pairs, ref_template=REF)
    schemas: dict[str, Any] = _to_openapi_30(top.get("$defs", {}))
    schemas["Error"] = ERROR_SCHEMA
    schemas["ErrorEnvelope"] = {
        "type": "object",
        "required": ["success", "error"],
        "properties": {
            "success": {"type": "boolean", "enum": [False]},
            "error": {"$ref": REF.format(model="Error")},
        },
    }
    for view in views:
        schemas[f"{view.__name__}Envelope"] = {
            "type": "object",
            "required": ["success", "data"],
            "properties": {
                "success": {"type": "boolean", "enum": [True]},
                "data": {"$ref": REF.format(model=view.__name__)},
            },
        }
    return schemas


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "category", "message", "hint", "details", "requestId"],
    "properties": {
        "code": {"type": "string", "description": "Stable; the same as GraphQL's extensions.code."},
        "category": {
            "type": "string",
            "enum": [
                "client_error",
                "validation_error",
                "auth_error",
                "rate_limited",
                "server_error",
            ],
        },
        "message": {"type": "string"},
        "hint": {"type": "string", "description": "What to do about it."},
        "details": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
        "requestId": {"type": "string", "description": "Equals the X-Request-ID header."},
    },
}

HEADERS: dict[str, Any] = {
    "X-Request-ID": {
        "description": "The request id (yours when you sent a safe one); quote it when reporting.",
        "schema": {"type": "string"},
        "required": True,
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer"},
        "required": True,
    },
    "Location": {"description": "Where the new task can be read.", "schema": {"type": "string"}},
    "RateLimit-Limit": {
        "description": "Operations allowed in the window of the tightest limit touched.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Remaining": {
        "description": "Operations left in that window.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Reset": {
        "description": "Seconds until that window has room again.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Policy": {
        "description": "The limit as `<limit>;w=<window seconds>`.",
        "schema": {"type": "string", "pattern": "^[0-9]+;w=[0-9]+$"},
    },
    "WWW-Authenticate": {"description": "The scheme to use.", "schema": {"type": "string"}},
    "Stream-Next-Offset": {
        "description": "Durable Streams: the offset to read from next.",
        "schema": {"type": "string"},
    },
    "Stream-Up-To-Date": {
        "description": "Durable Streams: `true` when the answer holds everything stored.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Stream-Cursor": {
        "description": "Durable Streams: echo it as `cursor` on the next long-poll.",
        "schema": {"type": "string"},
    },
}
RATE_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy")


def _headers(*names: str) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in ("X-Request-ID", *names)}


def _error_response(status: int) -> dict[str, Any]:
    example = ERROR_EXAMPLES[status]
    extra: tuple[str, ...] = ()
    if status in (429, 503):
        extra = ("Retry-After",)
    elif status == 401:
        extra = ("WWW-Authenticate",)
    return {
        "description": example["description"],
        "headers": _headers(*extra, *(RATE_HEADERS if status == 429 else ())),
        "content": {
            "application/json": {
                "schema": {"$ref": REF.format(model="ErrorEnvelope")},
                "example": {"success": False, "error": example["error"]},
            }
        },
    }


def _operation(op: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for reply in op.replies:
        content: dict[str, Any]
        if reply.data is None:
            content = {reply.media_type: {"schema": {"type": "string"}}}
        else:
            ref = REF.format(model=f"{reply.data.__name__}Envelope")
            content = {reply.media_type: {"schema": {"$ref": ref}}}
        for media_type, schema in reply.alternatives:
            if media_type in content:
                content[media_type] = {"schema": {"oneOf": [content[media_type]["schema"], schema]}}
            else:
                content[media_type] = {"schema": schema}
        responses[str(reply.status)] = {
            "description": reply.description,
            "headers": _headers(*reply.headers, *RATE_HEADERS),
            # A 204 has no body, so no media type either.
            **({"content": content} if reply.status != 204 else {}),
        }
    for status in sorted({*op.errors, 500}):
        responses[str(status)] = {"$ref": f"#/components/responses/Error{status}"}
    doc: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "description": op.description,
        "tags": [op.tag],
        "parameters": [
            {
                "name": p.name,
                "in": p.location,
                "required": p.required or p.location == "path",
                "description": p.description,
                "schema": p.schema,
                # An empty optional query value (`?status=`) means the parameter is absent.
                **({"allowEmptyValue": True} if p.location == "query" and not p.required else {}),
                **({"example": p.example} if p.example is not None else {}),
            }
            for p in op.params
        ],
        "responses": responses,
    }
    if op.body is not None:
        schema = {"schema": {"$ref": REF.format(model=op.body.__name__)}}
        doc["requestBody"] = {
            "required": op.body_required,
            "content": {
                "application/json": schema,
                **(
                    {"application/x-www-form-urlencoded": {"schema": op.form_body}}
                    if op.form_body is not None
                    else {}
                ),
            },
        }
    if op.auth == "none":
        doc["security"] = []  # the route's own secret (an approval link's token) authenticates
    return doc


def build_document(operations: tuple[Operation, ...], *, version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(PREFIX + op.path, {})[op.method.lower()] = _operation(op)
    bodies = list(dict.fromkeys(op.body for op in operations if op.body is not None))
    views = list(dict.fromkeys(r.data for op in operations for r in op.replies if r.data))
    statuses = sorted({s for op in operations for s in op.errors} | {404, 405, 500})
    return {
        "openapi": "3.0.3",
        "info": {"title": "agentwire REST API", "version": version, "description": DESCRIPTION},
        "tags": [
            {"name": "tasks", "description": "Submit, read, approve, undo, cancel, list."},
            {"name": "approvals", "description": "The approval inbox (docs/approvals.md)."},
            {"name": "events", "description": "Polling and Server-Sent Events fallbacks."},
            {
                "name": "worker",
                "description": "For execution engines, with a `worker` API key (docs/workers.md).",
            },
        ],
        "security": [{"bearerAuth": []}, {"apiKey": []}],
        "paths": paths,
        "components": {
            "schemas": component_schemas(bodies, views),
            "responses": {f"Error{s}": _error_response(s) for s in statuses},
            "headers": HEADERS,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A JWT: `Authorization: Bearer <token>`.",
                },
                "apiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-API-Key",
                    "description": "An API key for systems and workers.",
                },
            },
        },
    }
