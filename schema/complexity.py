"""A cap on how many objects one operation can ask for: list sizes multiplied down the tree.

Depth, token and alias limits bound the document; they do not stop
`tasks(first: 100) { edges { node { logs { ... } } } }`, which is small to write and
large to answer. This counts the objects a document could return (each list counts its
page size, or a fixed estimate for lists without one), with the variables of the call,
and refuses the operation before it runs when the count is over the cap.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    value_from_ast,
)
from strawberry.extensions import SchemaExtension

from subscriptions.library_seam import graphql_core_schema

MAX_OBJECTS = 20_000
PAGE_ARGUMENTS = ("first", "limit")
# Lists without a size argument: what they hold at most, or typically.
LIST_ESTIMATES = {"Task.logs": 500, "Task.steps": 50, "Task.approvals": 50}
DEFAULT_LIST_ESTIMATE = 50


def _page_size(field: GraphQLField, node: FieldNode, variables: dict[str, Any]) -> int | None:
    for name in PAGE_ARGUMENTS:
        argument = field.args.get(name)
        if argument is None:
            continue
        value: Any = argument.default_value
        for given in node.arguments or ():
            if given.name.value == name:
                value = value_from_ast(given.value, argument.type, variables)
        if isinstance(value, int) and not isinstance(value, bool):
            return max(value, 0)
    return None


class _Counter:
    """Counts per selection set once: fragments spread many times cost one walk each.

    The count is linear in the number of copies of the parent, so each (selection set,
    parent type, page) is counted for one copy, memoised, and multiplied; a document whose
    fragments each spread the next one twice is then counted in time linear in its size.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.known: dict[tuple[int, str, int], int] = {}
        # Cycles are refused by validation; here they must only not recurse forever.
        self.open: set[tuple[int, str, int]] = set()

    def count(self, selection_set: SelectionSetNode, parent: Any, copies: int, page: int) -> int:
        """Objects under `selection_set` when its parent appears `copies` times."""
        return copies * self._once(selection_set, parent, page)

    def _once(self, selection_set: SelectionSetNode, parent: Any, page: int) -> int:
        key = (id(selection_set), getattr(parent, "name", ""), page)
        known = self.known.get(key)
        if known is not None:
            return known
        if key in self.open:
            return 0
        self.open.add(key)
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total += self._once(selection.selection_set, inner, page)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    inner = self.schema.get_type(fragment.type_condition.name.value)
                    total += self._once(fragment.selection_set, inner, page)
        self.open.discard(key)
        self.known[key] = total
        return total

    def _field(self, node: FieldNode, parent_type: Any, page: int) -> int:
        if not isinstance(parent_type, GraphQLObjectType | GraphQLInterfaceType):
            return 0
        field = parent_type.fields.get(node.name.value)
        if field is None or node.selection_set is None:
            return 0
        size = _page_size(field, node, self.variables)
        child_copies, child_page, total = 1, size or 1, 0
        if isinstance(get_nullable_type(field.type), GraphQLList):
            # A connection's edges are as many as the page its parent asked for.
            key = f"{parent_type.name}.{node.name.value}"
            estimate = LIST_ESTIMATES.get(key, DEFAULT_LIST_ESTIMATE)
            length = size if size is not None else (page if page > 1 else estimate)
            child_copies, child_page = length, 1
            total += child_copies
        return total + self.count(
            node.selection_set, get_named_type(field.type), child_copies, child_page
        )


def count_objects(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
) -> int:
    """How many objects `operation` could return, at most (estimates for unsized lists)."""
    root = schema.get_root_type(operation.operation)
    return _Counter(schema, fragments, variables).count(operation.selection_set, root, 1, 1)


def list_size_error(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any],
) -> GraphQLError | None:
    """The refusal of an operation whose lists multiply out to more than `MAX_OBJECTS`
    objects, or None: over HTTP (`ListSizeLimiter`) and on sockets (schema/realtime.py)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    chosen = [
        o
        for o in operations
        if operation_name is None or (o.name is not None and o.name.value == operation_name)
    ]
    for operation in chosen[:1]:
        total = count_objects(schema, operation, fragments, variables)
        if total > MAX_OBJECTS:
            return GraphQLError(
                f"this operation could return about {total} objects; the limit is "
                f"{MAX_OBJECTS}: ask for smaller pages (first/limit) or fewer nested lists",
                extensions={"code": "QUERY_TOO_LARGE"},
            )
    return None


class ListSizeLimiter(SchemaExtension):
    """Refuse an operation whose lists multiply out to more than `MAX_OBJECTS` objects."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None:
            error = list_size_error(
                graphql_core_schema(context.schema),
                document,
                context.operation_name,
                context.variables or {},
            )
            if error is not None:
                raise error
        yield
