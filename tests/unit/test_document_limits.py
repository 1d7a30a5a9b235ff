"""Depth and alias limits still refuse, and their validation is cached across requests."""

from __future__ import annotations

from strawberry.extensions.validation_cache import _get_validate_cache

from schema.build import MAX_ALIASES, MAX_DEPTH, VALIDATION_CACHE_SIZE, build_schema


def nested(depth: int) -> str:
    """A document of `depth` in Strawberry's count (`{ a { b } }` is 1). The schema has no
    cycle that deep, so the fields are unknown; the depth rule reports on its own."""
    inner = "leaf"
    for level in range(depth):
        inner = f"f{level} {{ {inner} }}"
    return f"{{ {inner} }}"


def depth_error(depth: int) -> str:
    return f"'anonymous' exceeds maximum operation depth of {depth}"


def aliased(count: int) -> str:
    return "{ " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"


async def test_a_document_deeper_than_the_limit_is_refused() -> None:
    schema = build_schema()
    for _ in range(2):  # the second time from the validation cache
        allowed = await schema.execute(nested(MAX_DEPTH))
        assert allowed.errors is not None
        assert depth_error(MAX_DEPTH) not in [e.message for e in allowed.errors]
        refused = await schema.execute(nested(MAX_DEPTH + 1))
        assert refused.errors is not None
        assert depth_error(MAX_DEPTH) in [e.message for e in refused.errors]


async def test_a_document_with_too_many_aliases_is_refused() -> None:
    schema = build_schema()
    for _ in range(2):  # the second time from the validation cache
        allowed = await schema.execute(aliased(MAX_ALIASES))
        assert allowed.errors is None
        refused = await schema.execute(aliased(MAX_ALIASES + 1))
        assert refused.errors is not None
        assert [e.message for e in refused.errors] == [
            f"{MAX_ALIASES + 1} aliases found. Allowed: {MAX_ALIASES}"
        ]


async def test_the_same_document_is_validated_once_across_requests() -> None:
    schema = build_schema()
    cache = _get_validate_cache(VALIDATION_CACHE_SIZE)
    document = '{ __type(name: "Task") { name kind } }'
    before = cache.cache_info()
    for _ in range(5):
        result = await schema.execute(document)
        assert result.errors is None
    after = cache.cache_info()
    assert after.misses - before.misses == 1
    assert after.hits - before.hits == 4
