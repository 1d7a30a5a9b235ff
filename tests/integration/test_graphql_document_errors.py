"""A document the server refuses before running it carries a code Apollo clients know,
or the code of the limit that refused it, and always a hint."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schema.build import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS
from tests.support.attacker import bearer, gql, next_frame, ws_init
from tests.support.live import LiveServer


def nested(depth: int) -> str:
    """`tasks { edges { node { steps { task ... } } } }` nests without end in the schema."""
    inner = "id"
    for _ in range(depth):
        inner = f"me {{ subject }} tasks(first: 1) {{ edges {{ node {{ {inner} }} }} }}"
    return f"{{ {inner} }}"


CASES = [
    (
        "{ me { subject ",
        "Syntax Error: Expected Name, found <EOF>.",
        "GRAPHQL_PARSE_FAILED",
        "fix the syntax of the GraphQL document at the location given",
    ),
    (
        "{ me { nosuch } }",
        "Cannot query field 'nosuch' on type 'User'.",
        "GRAPHQL_VALIDATION_FAILED",
        "check the document against the schema (graphql/schema.graphql, or the Docs pane "
        "in GraphiQL)",
    ),
    (
        "{ " + "__typename " * MAX_TOKENS + "}",
        f"Syntax Error: Document contains more than {MAX_TOKENS} tokens. Parsing aborted.",
        "TOO_MANY_TOKENS",
        f"send a shorter document (at most {MAX_TOKENS} tokens): select fewer fields or "
        "split it into several operations",
    ),
    (
        "{ " + " ".join(f"a{i}: __typename" for i in range(MAX_ALIASES + 1)) + " }",
        f"{MAX_ALIASES + 1} aliases found. Allowed: {MAX_ALIASES}",
        "TOO_MANY_ALIASES",
        f"use at most {MAX_ALIASES} aliases in one operation: split it into several",
    ),
    (
        "{ tasks(first: 100) { edges { node { logs { id } steps { id } } } } }",
        "this operation could return about 55100 objects; the limit is 20000: ask for "
        "smaller pages (first/limit) or fewer nested lists",
        "QUERY_TOO_LARGE",
        "ask for smaller pages (first/limit) or fewer nested lists",
    ),
]


@pytest.mark.parametrize(("document", "message", "code", "hint"), CASES, ids=lambda v: "")
async def test_a_refused_document_has_a_code_and_a_hint(
    server: LiveServer, document: str, message: str, code: str, hint: str
) -> None:
    response = await gql(server, document, headers=bearer(server.token()))
    errors: list[dict[str, Any]] = response.json()["errors"]
    assert [(e["message"], e["extensions"]) for e in errors] == [
        (message, {"code": code, "hint": hint})
    ]


async def test_a_document_too_deep_is_refused_with_its_code_and_hint(server: LiveServer) -> None:
    response = await gql(server, nested(MAX_DEPTH), headers=bearer(server.token()))
    errors: list[dict[str, Any]] = response.json()["errors"]
    assert errors
    deep = [e for e in errors if e["extensions"]["code"] == "QUERY_TOO_DEEP"]
    assert [e["extensions"] for e in deep] == [
        {
            "code": "QUERY_TOO_DEEP",
            "hint": f"nest selections at most {MAX_DEPTH} levels deep: split the operation, "
            "or ask for nested objects by id in another one",
        }
    ]
    assert deep[0]["message"] == f"'anonymous' exceeds maximum operation depth of {MAX_DEPTH}"


async def test_a_socket_gets_the_same_codes_and_hints(server: LiveServer) -> None:
    socket = await ws_init(server, {"authorization": f"Bearer {server.token()}"})
    try:
        assert (await next_frame(socket))["type"] == "connection_ack"
        answers = []
        for index, (document, message, code, hint) in enumerate(CASES[1:4:2]):
            subscribe = {"id": str(index), "type": "subscribe", "payload": {"query": document}}
            await socket.send(json.dumps(subscribe))
            frame = await next_frame(socket)
            answers.append((frame["type"], frame["payload"], (message, code, hint)))
        for kind, payload, (message, code, hint) in answers:
            assert kind == "error"
            assert [(e["message"], e["extensions"]) for e in payload] == [
                (message, {"code": code, "hint": hint})
            ]
    finally:
        await socket.close()
