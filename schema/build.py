"""The one Strawberry schema."""

from __future__ import annotations

import strawberry
from graphql import ASTValidationRule, GraphQLError, specified_rules
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.types import ExecutionContext

from resolvers.errors import DomainError
from schema.complexity import ListSizeLimiter
from schema.document_rules import alias_limit_rule, depth_limit_rule
from schema.error_codes import DocumentErrorCodes
from schema.extensions import MaskUnexpectedErrors
from schema.mutation import Mutation
from schema.operation_metrics import OperationMetrics
from schema.query import Query
from schema.subscription import Subscription
from schema.suggestions import HideSuggestions

MAX_DEPTH = 10
MAX_TOKENS = 2000
MAX_ALIASES = 30
PARSER_CACHE_SIZE = 256
VALIDATION_CACHE_SIZE = 256


# Built once per process: `ValidationCache` keys on the document *and* the rule classes,
# and each `QueryDepthLimiter(...)` / `MaxAliasesLimiter(...)` makes a new class, so rules
# built per request missed the cache (about 4 ms of CPU each). They are ours
# (schema/document_rules.py): Strawberry's walk fragments in exponential time.
_LIMIT_RULES: tuple[type[ASTValidationRule], ...] = (
    depth_limit_rule(MAX_DEPTH),
    alias_limit_rule(MAX_ALIASES),
)


def added_rules(*, production: bool) -> tuple[type[ASTValidationRule], ...]:
    """What agentwire adds to graphql-core's rules: depth and aliases, and in production no
    introspection (what Strawberry's `DisableIntrospection` adds, in the same list)."""
    return (*_LIMIT_RULES, *((NoSchemaIntrospectionCustomRule,) if production else ()))


def document_limits(*, production: bool) -> type[SchemaExtension]:
    """The added rules as one extension: every HTTP request validates with the same classes."""
    rules = list(added_rules(production=production))

    class DocumentLimits(AddValidationRules):
        def __init__(self) -> None:
            super().__init__(rules)

    return DocumentLimits


class AgentwireSchema(strawberry.Schema):
    # The one list of rules a document is validated with, over HTTP (Strawberry: its
    # specified rules plus `document_limits`) and on sockets (schema/realtime.py).
    validation_rules: tuple[type[ASTValidationRule], ...] = tuple(specified_rules)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log only what is unexpected: domain errors and invalid documents are the caller's."""
        unexpected = [
            error
            for error in errors
            if error.original_error is not None
            and not isinstance(error.original_error, DomainError)
        ]
        super().process_errors(unexpected, execution_context)


def build_schema(*, production: bool = False) -> AgentwireSchema:
    """In production, introspection is off: the schema is published, not discoverable."""
    schema = AgentwireSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            # Outermost: it counts the outcome the client sees, after codes and masking.
            OperationMetrics,
            # First after it, so that its after-parse and after-validate steps see every error.
            DocumentErrorCodes,
            document_limits(production=production),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            *([HideSuggestions] if production else []),
            lambda: ParserCache(maxsize=PARSER_CACHE_SIZE),
            lambda: ValidationCache(maxsize=VALIDATION_CACHE_SIZE),
            ListSizeLimiter,
            MaskUnexpectedErrors,
        ],
    )
    schema.validation_rules = (*specified_rules, *added_rules(production=production))
    return schema
