"""Codes and hints for documents the server refuses before running them.

Apollo's clients already know `GRAPHQL_PARSE_FAILED` and `GRAPHQL_VALIDATION_FAILED`;
a refusal by one of our limits has a code of its own, and every one says what to do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"

# Limit refusals that graphql-core and Strawberry word but do not code, told by message.
_LIMITS = (
    (re.compile(r"Document contains more than (\d+) tokens"), "TOO_MANY_TOKENS"),
    (re.compile(r"exceeds maximum operation depth of (\d+)"), "QUERY_TOO_DEEP"),
    (re.compile(r"aliases found\. Allowed: (\d+)"), "TOO_MANY_ALIASES"),
)

HINTS = {
    PARSE_FAILED: "fix the syntax of the GraphQL document at the location given",
    VALIDATION_FAILED: "check the document against the schema (graphql/schema.graphql, "
    "or the Docs pane in GraphiQL)",
    "TOO_MANY_TOKENS": "send a shorter document (at most {limit} tokens): select fewer fields "
    "or split it into several operations",
    "QUERY_TOO_DEEP": "nest selections at most {limit} levels deep: split the operation, "
    "or ask for nested objects by id in another one",
    "TOO_MANY_ALIASES": "use at most {limit} aliases in one operation: split it into several",
    "QUERY_TOO_LARGE": "ask for smaller pages (first/limit) or fewer nested lists",
}


def annotate(errors: Iterable[GraphQLError], default_code: str) -> None:
    """Give each error a code (its own if it has one) and the hint for that code."""
    for error in errors:
        extensions = dict(error.extensions or {})
        limit = ""
        if "code" not in extensions:
            extensions["code"] = default_code
            for pattern, code in _LIMITS:
                found = pattern.search(error.message)
                if found:
                    extensions["code"], limit = code, found.group(1)
                    break
        hint = HINTS.get(str(extensions["code"]))
        if hint is not None and "hint" not in extensions:
            extensions["hint"] = hint.format(limit=limit or "the allowed number of")
        error.extensions = extensions


class DocumentErrorCodes(SchemaExtension):
    """Codes parse and validation errors; must come first, so it sees every rule's errors."""

    def on_validate(self) -> Iterator[None]:
        yield
        annotate(self.execution_context.pre_execution_errors or (), VALIDATION_FAILED)

    def on_operation(self) -> Iterator[None]:
        # The parser cache parses inside its own hook and the list-size limit refuses
        # inside its own, so those errors arrive here as exceptions, before any result.
        try:
            yield
        except GraphQLSyntaxError as error:
            annotate([error], PARSE_FAILED)
            raise
        except GraphQLError as error:
            # A refusal raised with a code of its own (QUERY_TOO_LARGE) gets that code's hint.
            if "code" in (error.extensions or {}):
                annotate([error], VALIDATION_FAILED)
            raise
        result = self.execution_context.result
        errors = (result.errors if result is not None else None) or []
        annotate((e for e in errors if isinstance(e, GraphQLSyntaxError)), PARSE_FAILED)
