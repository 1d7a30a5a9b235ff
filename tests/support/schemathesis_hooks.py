"""Hooks for the schemathesis run (loaded through SCHEMATHESIS_HOOKS).

JSON Schema cannot say everything the document's descriptions promise; the hooks make
generated requests follow those rules, so a valid-looking request is a valid one:

- long-polling and claims may legally wait up to 30 s: `wait` and `timeout` are capped
  so the run stays bounded, and a Durable Streams `live=sse` (endless) is read as a long-poll;
- `dateFrom` must not be after `dateTo` (documented on the history route): swapped;
- `after` is an opaque cursor the API issued (documented): a generated one is replaced
  by a cursor of the form the API issues, for a random position;
- no string inside a JSON body, keys included, holds a NUL (documented): removed.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

import schemathesis


def _moment(text: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _issued_cursor(seed: str) -> str:
    position = uuid.uuid5(uuid.NAMESPACE_URL, seed)
    raw = f"{datetime(2026, 1, 1, tzinfo=UTC).isoformat()}|{position}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


@schemathesis.hook
def map_query(context: schemathesis.HookContext, query: dict[str, Any] | None) -> Any:
    if not query:
        return query
    for bounded in ("wait", "timeout"):
        value = query.get(bounded)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0.2:
            query[bounded] = 0.2
    if query.get("live") == "sse":
        query["live"] = "long-poll"  # an endless stream cannot be checked request by request
    if query.get("live") == "long-poll" and not isinstance(query.get("timeout"), int | float):
        query["timeout"] = 0.2  # absent or empty: the 20 s default
    start, end = _moment(query.get("dateFrom")), _moment(query.get("dateTo"))
    if start is not None and end is not None:
        try:
            reversed_range = start > end
        except (OverflowError, ValueError):
            reversed_range = False
        if reversed_range:
            query["dateFrom"], query["dateTo"] = query["dateTo"], query["dateFrom"]
    if isinstance(query.get("after"), str) and context.operation.path.endswith("/approvals"):
        query["after"] = _issued_cursor(query["after"])
    return query


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


@schemathesis.hook
def map_body(context: schemathesis.HookContext, body: Any) -> Any:
    body = _without_nul(body)
    if isinstance(body, dict):
        value = body.get("wait")  # a claim may wait up to 30 s, as long-polling may
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0.2:
            body["wait"] = 0.2
    return body
