"""What counts as "the database did not answer": one classifier for every transport."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

from resolvers.errors import (
    DATABASE_UNREACHABLE,
    NotFoundError,
    UnavailableError,
    unavailable_from,
)


class QueryCanceledError(Exception):
    """Shaped like asyncpg's QueryCanceledError: what statement_timeout raises."""

    sqlstate = "57014"


class UniqueViolationError(Exception):
    sqlstate = "23505"


def wrapped(orig: Exception) -> sa_exc.DBAPIError:
    """As SQLAlchemy hands a driver error up: a DBAPIError whose `orig` caused it."""
    adapted = Exception("adapted")
    adapted.__cause__ = orig
    return sa_exc.DBAPIError("SELECT 1", {}, adapted)


def test_timeouts_and_lost_connections_are_unavailable() -> None:
    for error in (
        TimeoutError(),
        ConnectionResetError(),
        sa_exc.OperationalError("SELECT 1", {}, Exception("gone")),
        sa_exc.TimeoutError("pool"),
    ):
        found = unavailable_from(error)
        assert found is not None, error
        assert (found.code, found.message, found.retry_after) == (
            "UNAVAILABLE",
            DATABASE_UNREACHABLE,
            5,
        )


def test_a_statement_the_server_cancelled_is_unavailable() -> None:
    assert unavailable_from(wrapped(QueryCanceledError())) is not None


def test_other_database_and_domain_errors_are_not() -> None:
    assert unavailable_from(wrapped(UniqueViolationError())) is None
    assert unavailable_from(NotFoundError("no such task")) is None
    assert unavailable_from(ValueError("bad")) is None


def test_an_unavailable_error_is_itself() -> None:
    error = UnavailableError("Redis and the database are both down", retry_after=9)
    assert unavailable_from(error) is error
