"""The one Strawberry schema."""

from __future__ import annotations

import strawberry
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)

from schema.extensions import MaskUnexpectedErrors
from schema.mutation import Mutation
from schema.query import Query
from schema.subscription import Subscription

MAX_DEPTH = 10
MAX_TOKENS = 2000
MAX_ALIASES = 30


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            MaskUnexpectedErrors,
        ],
    )
