"""The one Strawberry schema."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.types import ExecutionContext

from resolvers.errors import DomainError
from schema.complexity import ListSizeLimiter
from schema.extensions import MaskUnexpectedErrors
from schema.mutation import Mutation
from schema.query import Query
from schema.subscription import Subscription

MAX_DEPTH = 10
MAX_TOKENS = 2000
MAX_ALIASES = 30


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
            lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
            *([DisableIntrospection] if production else []),
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            ListSizeLimiter,
            MaskUnexpectedErrors,
        ],
    )
