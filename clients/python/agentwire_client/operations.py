"""The shipped GraphQL operation documents (copies of graphql/operations/; a test checks they
have not drifted), so that the installed package works without the repository beside it."""

from __future__ import annotations

from functools import cache
from importlib import resources

_OPERATIONS = resources.files("agentwire_client") / "operations"


@cache
def operation(name: str) -> str:
    """The document for operation `name` with the fragments it spreads appended."""
    body = (_OPERATIONS / f"{name}.graphql").read_text()
    fragments: dict[str, str] = {}
    for chunk in (_OPERATIONS / "fragments.graphql").read_text().split("fragment ")[1:]:
        fragments[chunk.split()[0]] = "fragment " + chunk.strip()
    return _with_fragments(body, fragments)


def _with_fragments(body: str, fragments: dict[str, str]) -> str:
    # GraphQL rejects unused fragments, so add only the ones reachable from `body`.
    used: dict[str, str] = {}
    pending = [body]
    while pending:
        text = pending.pop()
        for name, definition in fragments.items():
            if name not in used and f"...{name}" in text:
                used[name] = definition
                pending.append(definition)
    return "\n".join([body.strip(), *used.values()])
