"""Schema extensions: domain errors keep their code, anything unexpected is masked and logged.

A database that did not answer is not unexpected: it becomes `UNAVAILABLE` (the same code
and message REST gives with its 503), which the view answers with 503 and Retry-After.
"""

from __future__ import annotations

import logging

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from resolvers.errors import DomainError, unavailable_from

logger = logging.getLogger("agentwire.graphql")

INTERNAL_MESSAGE = "Internal server error; the request id in the logs identifies it."


def should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None or isinstance(original, DomainError):
        return False
    if isinstance(original, GraphQLError):
        return should_mask(original)
    if unavailable_from(original) is not None:
        logger.warning("database unreachable in %s: %r", error.path, original)
        return True
    logger.error("unexpected error in %s", error.path, exc_info=original)
    return True


def _root_cause(error: GraphQLError) -> BaseException | None:
    original = error.original_error
    while isinstance(original, GraphQLError):
        original = original.original_error
    return original


def _anonymised(error: GraphQLError) -> GraphQLError:
    cause = _root_cause(error)
    unavailable = unavailable_from(cause) if cause is not None else None
    if unavailable is not None:
        return GraphQLError(
            unavailable.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=unavailable,
            extensions=unavailable.extensions,
        )
    return GraphQLError(
        INTERNAL_MESSAGE,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": "INTERNAL"},
    )


def mask_unexpected(error: GraphQLError) -> GraphQLError:
    """The one error mask, for results that do not pass through Strawberry's extensions
    (events rendered on sockets, schema/realtime.py): exactly `MaskUnexpectedErrors`'s."""
    return _anonymised(error) if should_mask(error) else error


class MaskUnexpectedErrors(MaskErrors):
    """Never a stack trace or internal message in a response: only domain errors speak."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask, error_message=INTERNAL_MESSAGE)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return _anonymised(error)
