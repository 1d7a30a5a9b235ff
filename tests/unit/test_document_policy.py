"""One list of validation rules and one error mask, whether a document arrives over HTTP
(Strawberry's extensions) or on a socket (the shared subscription planner)."""

from __future__ import annotations

from graphql import GraphQLError, parse, specified_rules
from graphql.validation import NoSchemaIntrospectionCustomRule

from resolvers.errors import ConflictError
from schema.build import added_rules, build_schema
from schema.complexity import MAX_OBJECTS
from schema.extensions import MaskUnexpectedErrors
from schema.realtime import SubscriptionPlanner, format_errors
from subscriptions.library_seam import graphql_core_schema

TASK_ID = "00000000-0000-0000-0000-000000000001"
# 50 approvals (the estimate) x 500 logs each: over MAX_OBJECTS, under every other limit.
WIDE = "approvals { task { logs { id } } }"


def _planner(production: bool = False) -> SubscriptionPlanner:
    schema = build_schema(production=production)
    return SubscriptionPlanner(graphql_core_schema(schema), rules=schema.validation_rules)


def test_the_schema_carries_one_rule_list_for_both_paths() -> None:
    assert build_schema().validation_rules == (*specified_rules, *added_rules(production=False))
    production = build_schema(production=True).validation_rules
    assert NoSchemaIntrospectionCustomRule in production
    # The rule classes are built once, so HTTP's ValidationCache keeps hitting.
    assert added_rules(production=False) == added_rules(production=False)


async def test_an_oversized_subscription_is_refused_on_sockets_as_a_query_is_over_http() -> None:
    # given
    subscription = (
        f'subscription {{ taskUpdates(taskId: "{TASK_ID}") {{ data {{ task {{ {WIDE} }} }} }} }}'
    )
    query = f'{{ task(id: "{TASK_ID}") {{ {WIDE} }} }}'
    # when
    refused = _planner().plan(subscription, {}, None)
    over_http = await build_schema().execute(query)
    # then
    assert isinstance(refused, list)
    assert over_http.errors is not None
    assert [e.message for e in refused] == [e.message for e in over_http.errors]
    assert refused[0].extensions == {"code": "QUERY_TOO_LARGE"}
    assert str(MAX_OBJECTS) in refused[0].message


def test_socket_errors_are_masked_exactly_as_http_errors() -> None:
    field = parse("subscription { taskUpdates { id } }").definitions[0].selection_set.selections[0]  # type: ignore[attr-defined]
    unexpected = GraphQLError(
        "boom", nodes=[field], path=["taskUpdates"], original_error=RuntimeError("secret")
    )
    domain = ConflictError("already finished")
    expected = GraphQLError(domain.message, path=["taskUpdates"], original_error=domain)
    over_http = [
        e.formatted for e in MaskUnexpectedErrors()._process_errors([unexpected, expected])
    ]
    assert format_errors([unexpected, expected]) == over_http
    assert "secret" not in str(over_http)
    assert over_http[0]["extensions"] == {"code": "INTERNAL"}
    assert over_http[0]["locations"] == [{"line": 1, "column": 16}]
