"""Load the documents in graphql/operations by name, with the fragments they use."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

OPERATIONS_DIR = Path(__file__).resolve().parents[2] / "graphql" / "operations"
_FRAGMENT = re.compile(r"^fragment\s+(\w+)\s+on\s+\w+\s*\{", re.MULTILINE)


@cache
def _fragments() -> dict[str, str]:
    text = (OPERATIONS_DIR / "fragments.graphql").read_text()
    starts = [(m.group(1), m.start()) for m in _FRAGMENT.finditer(text)]
    bounds = [*(start for _, start in starts[1:]), len(text)]
    return {
        name: text[start:end].strip() for (name, start), end in zip(starts, bounds, strict=True)
    }


@cache
def operation(name: str) -> str:
    """The operation `name` plus every fragment it spreads, transitively."""
    body = (OPERATIONS_DIR / f"{name}.graphql").read_text()
    needed: list[str] = []
    pending = re.findall(r"\.\.\.(\w+)", body)
    while pending:
        fragment = pending.pop()
        if fragment in needed:
            continue
        needed.append(fragment)
        pending.extend(re.findall(r"\.\.\.(\w+)", _fragments()[fragment]))
    return "\n\n".join([body, *(_fragments()[f] for f in needed)])
