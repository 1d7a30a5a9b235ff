"""Only domain errors speak; anything else reaches the client as a masked INTERNAL error."""

from __future__ import annotations

import logging

import pytest
from graphql import GraphQLError

from resolvers.errors import ConflictError
from schema.extensions import INTERNAL_MESSAGE, MaskUnexpectedErrors


def test_unexpected_error_is_masked_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    leaked = GraphQLError("boom", path=["task"], original_error=RuntimeError("password=hunter2"))
    with caplog.at_level(logging.ERROR, logger="agentwire.graphql"):
        [masked] = MaskUnexpectedErrors()._process_errors([leaked])
    assert masked.message == INTERNAL_MESSAGE
    assert masked.extensions == {"code": "INTERNAL"}
    assert masked.path == ["task"]
    assert "hunter2" not in masked.message
    assert caplog.records and caplog.records[0].exc_info is not None


def test_domain_error_keeps_its_message_and_code() -> None:
    domain = ConflictError("the task is already completed and cannot be cancelled")
    error = GraphQLError(domain.message, path=["cancelTask"], original_error=domain)
    [kept] = MaskUnexpectedErrors()._process_errors([error])
    assert kept.message == "the task is already completed and cannot be cancelled"
    assert kept.extensions is not None and kept.extensions["code"] == "CONFLICT"


def test_document_errors_are_not_masked() -> None:
    error = GraphQLError("Cannot query field 'nosuch' on type 'Query'.")
    [kept] = MaskUnexpectedErrors()._process_errors([error])
    assert kept.message == "Cannot query field 'nosuch' on type 'Query'."
