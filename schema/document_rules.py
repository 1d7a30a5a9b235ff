"""Depth and alias limits that cost time linear in the document.

Strawberry's `QueryDepthLimiter` and `MaxAliasesLimiter` walk each fragment spread
anew: a document whose fragments each spread the next one twice (under 200 tokens)
makes them walk 2^n selections on the event loop. Here each fragment's depth and alias
count are computed once and reused, so the walk visits each selection of the document once.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)


class _Walk:
    """The height of a selection set (leaf fields count 0) and its aliases, fragments expanded.

    Each fragment is measured once and memoised, so the walk is linear in the document.
    """

    def __init__(self, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.known: dict[str, tuple[int, int]] = {}
        # A cycle is refused by `NoFragmentCycles`; here it must only not recurse forever.
        self.open: set[str] = set()

    def of(self, selection_set: SelectionSetNode) -> tuple[int, int]:
        """(height, aliases) of `selection_set`."""
        height = aliases = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                aliases += 1 if selection.alias else 0
                if selection.selection_set:
                    inner, inner_aliases = self.of(selection.selection_set)
                    aliases += inner_aliases
                    # Introspection fields are not counted, as in Strawberry's limiter.
                    if not selection.name.value.startswith("__"):
                        height = max(height, 1 + inner)
            else:
                if isinstance(selection, InlineFragmentNode):
                    inner, inner_aliases = self.of(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    inner, inner_aliases = self.fragment(selection.name.value)
                else:
                    continue
                height, aliases = max(height, inner), aliases + inner_aliases
        return height, aliases

    def fragment(self, name: str) -> tuple[int, int]:
        known = self.known.get(name)
        if known is not None:
            return known
        definition = self.fragments.get(name)
        if definition is None or name in self.open:
            return 0, 0
        self.open.add(name)
        measured = self.of(definition.selection_set)
        self.open.discard(name)
        self.known[name] = measured
        return measured


def _walk(document: DocumentNode) -> tuple[_Walk, list[OperationDefinitionNode]]:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return _Walk(fragments), operations


def depth_limit_rule(max_depth: int) -> type[ValidationRule]:
    """A validation rule refusing operations nested deeper than `max_depth` (built once)."""

    class DepthLimit(ValidationRule):
        def enter_document(self, node: DocumentNode, *_args: Any) -> None:
            walk, operations = _walk(node)
            for definition in operations:
                if walk.of(definition.selection_set)[0] > max_depth:
                    name = definition.name.value if definition.name else "anonymous"
                    self.report_error(
                        GraphQLError(
                            f"'{name}' exceeds maximum operation depth of {max_depth}",
                            definition,
                        )
                    )

    return DepthLimit


def alias_limit_rule(max_aliases: int) -> type[ValidationRule]:
    """A validation rule refusing documents with more than `max_aliases` aliases (built once).

    Aliases are counted with fragments expanded, as Strawberry's `MaxAliasesLimiter` does.
    """

    class AliasLimit(ValidationRule):
        def enter_document(self, node: DocumentNode, *_args: Any) -> None:
            walk, operations = _walk(node)
            total = sum(walk.of(o.selection_set)[1] for o in operations)
            if total > max_aliases:
                self.report_error(GraphQLError(f"{total} aliases found. Allowed: {max_aliases}"))

    return AliasLimit
