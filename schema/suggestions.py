"""No "Did you mean …" in production: with introspection off, suggestions would still
let a caller discover field, argument and enum names one typo at a time."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema import BaseSchema

SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def strip_suggestions(errors: Iterable[GraphQLError]) -> None:
    for error in errors:
        error.message = SUGGESTION.sub("", error.message)


def hides_suggestions(schema: BaseSchema) -> bool:
    """Whether `schema` was built to hide suggestions (production), for paths that
    validate outside Strawberry's extensions (schema/realtime.py)."""
    return HideSuggestions in getattr(schema, "extensions", ())


class HideSuggestions(SchemaExtension):
    """Removes suggestions from validation errors and from variable coercion errors."""

    def on_validate(self) -> Iterator[None]:
        yield
        strip_suggestions(self.execution_context.pre_execution_errors or ())

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        strip_suggestions((result.errors if result is not None else None) or ())
