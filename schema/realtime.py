"""The GraphQL side of the shared fan-out: which subscriptions it serves and how it renders them.

A `taskUpdates` or `myTaskUpdates` subscription is parsed and validated once per
distinct document (the same limits as HTTP), and each event is executed once
per group of subscribers with the same document, the same variables other than
the cursor, and the same visibility. Execution builds a fresh graphql-core
executor per event: graphql-core 3.3.2's per-subscription executor memoizes an
entry per event for the life of the subscription, and this path never keeps one.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson
from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    execute,
    parse,
    validate,
)
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.utilities import get_operation_ast

from schema.build import MAX_TOKENS
from schema.complexity import list_size_error
from schema.context import GraphQLContext
from schema.dataloaders import Loaders
from schema.error_codes import VALIDATION_FAILED, annotate
from schema.events import TaskEvent
from schema.extensions import mask_unexpected
from schema.suggestions import strip_suggestions
from subscriptions.envelope import Event

logger = logging.getLogger(__name__)

SHARED_FIELDS = ("taskUpdates", "myTaskUpdates")
DOCUMENT_CACHE_SIZE = 256


class DocumentSyntaxError(Exception):
    """The subscribe message's query does not parse: the protocol closes with 4400."""


@dataclass(frozen=True)
class SharedSubscription:
    field: str
    query: str
    document: DocumentNode
    operation_name: str | None
    variables: dict[str, Any]
    arguments: dict[str, Any]

    def group_key(self, visibility: str) -> Hashable:
        """What decides that two subscribers receive identical bytes."""
        shared = {k: v for k, v in self.variables.items() if k != "after"}
        return (
            self.query,
            self.operation_name,
            orjson.dumps(shared, option=orjson.OPT_SORT_KEYS),
            visibility,
        )


def format_errors(errors: list[GraphQLError]) -> list[Any]:
    """GraphQL errors as sent: masked exactly as over HTTP (schema/extensions.py)."""
    return [mask_unexpected(error).formatted for error in errors]


class SubscriptionPlanner:
    """Parses and validates subscribe messages, caching by document text."""

    def __init__(
        self,
        schema: GraphQLSchema,
        *,
        rules: Sequence[type[ASTValidationRule]],
        hide_suggestions: bool = False,
    ) -> None:
        self.schema = schema
        # The schema's one list (schema/build.py), the same as over HTTP.
        self._rules = list(rules)
        # Production: no "Did you mean ...", as over HTTP (schema/suggestions.py).
        self._hide_suggestions = hide_suggestions
        self._documents: OrderedDict[str, DocumentNode | list[GraphQLError]] = OrderedDict()

    def _document(self, query: str) -> DocumentNode | list[GraphQLError]:
        cached = self._documents.get(query)
        if cached is not None:
            self._documents.move_to_end(query)
            return cached
        try:
            document = parse(query, max_tokens=MAX_TOKENS)
        except GraphQLError as error:
            raise DocumentSyntaxError(error.message) from error
        errors = validate(self.schema, document, self._rules)
        # The same codes and hints as over HTTP (schema/error_codes.py).
        annotate(errors, VALIDATION_FAILED)
        self._strip(errors)
        result: DocumentNode | list[GraphQLError] = errors if errors else document
        self._documents[query] = result
        if len(self._documents) > DOCUMENT_CACHE_SIZE:
            self._documents.popitem(last=False)
        return result

    def plan(
        self, query: str, variables: dict[str, Any] | None, operation_name: str | None
    ) -> SharedSubscription | list[GraphQLError] | None:
        """The shared subscription, its request errors, or None for Strawberry's own path."""
        document = self._document(query)
        if isinstance(document, list):
            return document
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation is not OperationType.SUBSCRIPTION:
            return None  # queries, mutations, an unknown operation name: Strawberry answers
        field = _root_field(operation)
        if field is None or field.name.value not in SHARED_FIELDS:
            return None
        coerced = get_variable_values(
            self.schema, operation.variable_definitions or (), variables or {}
        )
        if isinstance(coerced, list):
            return self._strip(coerced)
        too_large = list_size_error(self.schema, document, operation_name, variables or {})
        if too_large is not None:
            return [too_large]
        subscription_type = self.schema.subscription_type
        assert subscription_type is not None
        try:
            arguments = get_argument_values(
                subscription_type.fields[field.name.value], field, coerced
            )
        except GraphQLError as error:
            return self._strip([error])
        return SharedSubscription(
            field=field.name.value,
            query=query,
            document=document,
            operation_name=operation_name,
            variables=dict(variables or {}),
            arguments=arguments,
        )

    def _strip(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        if self._hide_suggestions:
            strip_suggestions(errors)
        return errors


def _root_field(operation: OperationDefinitionNode) -> FieldNode | None:
    selections = operation.selection_set.selections
    # Validation guarantees one root field; a fragment spread at the root stays on
    # Strawberry's own path rather than being expanded here.
    if len(selections) == 1 and isinstance(selections[0], FieldNode):
        return selections[0]
    return None


class EventRenderer:
    """Executes one shared subscription's document for an event and serializes the payload."""

    def __init__(self, schema: GraphQLSchema, plan: SharedSubscription, context: GraphQLContext):
        self.schema = schema
        self.plan = plan
        self.context = context

    def __call__(self, event: Event) -> str | Awaitable[str]:
        context = self.context
        if event.attachment is not None:
            # A snapshot: its task fields read from loaders primed with rows as of its seq.
            context = replace(context, loaders=Loaders.create(context.services.sessions))
            rows = event.attachment
            context.loaders.steps_by_task_id.prime(rows.task.id, rows.steps)
            context.loaders.approvals_by_task_id.prime(rows.task.id, rows.approvals)
            context.loaders.logs_by_task_id.prime(rows.task.id, rows.logs)
        result = execute(
            self.schema,
            self.plan.document,
            root_value=TaskEvent.from_event(event),
            context_value=context,
            variable_values=self.plan.variables,
            operation_name=self.plan.operation_name,
        )
        if isinstance(result, Awaitable):
            return self._finish(result)
        return self._serialize(result.data, result.errors)

    async def _finish(self, pending: Awaitable[Any]) -> str:
        result = await pending
        return self._serialize(result.data, result.errors)

    @staticmethod
    def _serialize(data: Any, errors: list[GraphQLError] | None) -> str:
        payload: dict[str, Any] = {"data": data}
        if errors:
            payload["errors"] = format_errors(errors)
        return orjson.dumps(payload).decode()
