"""Security configuration is refused early and clearly; the query-size estimate is exact."""

from __future__ import annotations

import pytest
from graphql import OperationDefinitionNode, parse
from starlette.datastructures import Headers

from resolvers.limits import RateLimiter
from schema.build import build_schema
from schema.complexity import count_objects
from server.security import checked_origins
from server.ws_guard import origin_allowed
from subscriptions.library_seam import graphql_core_schema


def test_listed_origins_must_be_written_as_browsers_send_them() -> None:
    assert checked_origins(["https://app.example", "http://localhost:3000", "*"]) == [
        "https://app.example",
        "http://localhost:3000",
        "*",
    ]
    for wrong in ("app.example", "https://app.example/path", "HTTPS://App.Example"):
        with pytest.raises(ValueError, match="is not an origin as browsers send it"):
            checked_origins([wrong])


def test_a_rate_limit_in_the_wrong_notation_names_its_setting() -> None:
    with pytest.raises(ValueError) as caught:
        RateLimiter.create(redis_url=None, limits={"write": "lots"})
    assert str(caught.value) == (
        "AGENTWIRE_RATE_LIMIT_WRITE='lots' is not a rate limit; write it in the limits "
        "notation, e.g. '120/minute' or '10/second;600/minute'"
    )


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        (None, "api.example", True),
        ("https://api.example", "api.example", True),
        ("https://app.example", "api.example", True),
        ("https://evil.example", "api.example", False),
        ("null", "api.example", False),
    ],
)
def test_websocket_origin_rule(origin: str | None, host: str, allowed: bool) -> None:
    raw = {"host": host, **({"origin": origin} if origin else {})}
    assert origin_allowed(Headers(raw), ["https://app.example"]) is allowed


def estimate(document: str, variables: dict[str, object] | None = None) -> int:
    schema = graphql_core_schema(build_schema())
    parsed = parse(document)
    [operation] = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    return count_objects(schema, operation, {}, variables or {})


def test_list_sizes_multiply_down_the_tree() -> None:
    # 20 edges, then each task's steps (estimated 50) and logs (at most 500)
    query = "query($n: Int!) { tasks(first: $n) { edges { node { steps { id } logs { id } } } } }"
    assert estimate(query, {"n": 20}) == 20 + 20 * 50 + 20 * 500
    assert estimate("{ tasks { edges { node { id } } } }") == 20  # the default page
    assert estimate('{ taskEvents(taskId: "x", limit: 1000) { seq } }') == 1000
    assert estimate("{ me { id } }") == 0
