"""graphql/schema.graphql is the exported schema; it must match the code."""

from __future__ import annotations

from pathlib import Path

from graphql import parse, validate

from schema.build import build_schema
from subscriptions.library_seam import graphql_core_schema
from tests.support.operations import OPERATIONS_DIR, operation

SDL_PATH = Path(__file__).resolve().parents[2] / "graphql" / "schema.graphql"


def test_checked_in_schema_matches_the_code() -> None:
    exported = build_schema().as_str() + "\n"
    assert SDL_PATH.read_text() == exported, (
        "graphql/schema.graphql is stale: run `agentwire schema --write graphql/schema.graphql`"
    )


def test_every_operation_document_validates_against_the_schema() -> None:
    schema = graphql_core_schema(build_schema())
    names = [p.stem for p in OPERATIONS_DIR.glob("*.graphql") if p.stem != "fragments"]
    assert names
    for name in names:
        errors = validate(schema, parse(operation(name)))
        assert errors == [], f"{name}: {errors}"
