"""Schema extensions: domain errors keep their code, anything unexpected is masked and logged."""

from __future__ import annotations

import logging

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from resolvers.errors import DomainError

logger = logging.getLogger("agentwire.graphql")

INTERNAL_MESSAGE = "Internal server error; the request id in the logs identifies it."


def should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None or isinstance(original, DomainError):
        return False
    if isinstance(original, GraphQLError):
        return should_mask(original)
    logger.error("unexpected error in %s", error.path, exc_info=original)
    return True


class MaskUnexpectedErrors(MaskErrors):
    """Never a stack trace or internal message in a response: only domain errors speak."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask, error_message=INTERNAL_MESSAGE)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL"}
        return masked
