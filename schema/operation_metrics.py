"""`agentwire_graphql_operations_total{type,outcome}`: every operation Strawberry runs.

The outcome is read from the answer's error codes (after masking), so it is the one the
client saw: `ok`, or the worst category among the errors. Over HTTP the outcome is also
left in the request's state, so the view can count a 200 that carries errors in
`agentwire_errors_total` (a status of 400 or more is counted by the HTTP middleware).
Subscriptions served by the shared fan-out (schema/ws_handler.py) report their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from subscriptions import telemetry

OK = "ok"
_BY_CODE = {
    "UNAUTHENTICATED": "auth",
    "FORBIDDEN": "auth",
    "RATE_LIMITED": "rate_limited",
    "VALIDATION": "validation",
    "BAD_USER_INPUT": "validation",
    "GRAPHQL_PARSE_FAILED": "validation",
    "GRAPHQL_VALIDATION_FAILED": "validation",
    "TOO_MANY_TOKENS": "validation",
    "QUERY_TOO_DEEP": "validation",
    "TOO_MANY_ALIASES": "validation",
    "QUERY_TOO_LARGE": "validation",
    "INTERNAL": "server",
    "UNAVAILABLE": "server",
}
# When one answer carries several errors, the outcome is the one an operator must see first.
_SEVERITY = ("server", "auth", "rate_limited", "validation", "client")
OPERATION_TYPES = frozenset({"query", "mutation", "subscription"})
STATE_KEY = "graphql_outcome"


def category_of_code(code: object) -> str:
    """The `agentwire_errors_total` category of a GraphQL error code (others are `client`)."""
    return _BY_CODE.get(str(code), "client")


def outcome_of(errors: Iterable[GraphQLError] | None) -> str:
    categories = {category_of_code((e.extensions or {}).get("code")) for e in errors or ()}
    return next((c for c in _SEVERITY if c in categories), OK)


class OperationMetrics(SchemaExtension):
    """Counts each operation by type and outcome; listed first, so it sees the final errors."""

    def _operation_type(self) -> str:
        try:
            kind = self.execution_context.operation_type.value
        except Exception:  # no document (it did not parse), or no such operationName
            return "unknown"
        return kind if kind in OPERATION_TYPES else "unknown"

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except GraphQLError as error:
            self._record(outcome_of([error]))
            raise
        result = self.execution_context.result
        errors = list(result.errors or ()) if result is not None else []
        errors += self.execution_context.pre_execution_errors or []
        self._record(outcome_of(errors))

    def _record(self, outcome: str) -> None:
        telemetry.recorder.graphql_operation(self._operation_type(), outcome)
        request = getattr(self.execution_context.context, "request", None)
        state = getattr(request, "scope", {}).get("state") if request is not None else None
        if isinstance(state, dict):
            state[STATE_KEY] = outcome
