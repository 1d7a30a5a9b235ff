"""The one Strawberry schema."""

from __future__ import annotations

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
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


def document_limits() -> type[SchemaExtension]:
    """The depth and alias rules as one extension whose rule classes exist once.

    `ValidationCache` keys on the document *and* the rule classes, and each
    `QueryDepthLimiter(...)` / `MaxAliasesLimiter(...)` makes a new class: built per
    request, every request missed the cache (about 4 ms of CPU each). The classes are
    made here, once per schema, and every request's extension adds the same ones. They
    are ours (schema/document_rules.py): Strawberry's walk fragments in exponential time.
    """
    rules: list[type[ASTValidationRule]] = [
        depth_limit_rule(MAX_DEPTH),
        alias_limit_rule(MAX_ALIASES),
    ]

    class DocumentLimits(AddValidationRules):
        def __init__(self) -> None:
            super().__init__(rules)

    return DocumentLimits


class AgentwireSchema(strawberry.Schema):
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


def build_schema(*, production: bool = False) -> strawberry.Schema:
    """In production, introspection is off: the schema is published, not discoverable."""
    return AgentwireSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            # Outermost: it counts the outcome the client sees, after codes and masking.
            OperationMetrics,
            # First after it, so that its after-parse and after-validate steps see every error.
            DocumentErrorCodes,
            document_limits(),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            *([DisableIntrospection, HideSuggestions] if production else []),
            lambda: ParserCache(maxsize=PARSER_CACHE_SIZE),
            lambda: ValidationCache(maxsize=VALIDATION_CACHE_SIZE),
            ListSizeLimiter,
            MaskUnexpectedErrors,
        ],
    )
