"""GraphQL types of the worker API: executor declarations (issue 12)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from resolvers.executors import RegisteredExecutor
from schema.scalars import Reversibility


@strawberry.input(description="One action an executor can run.")
class ActionDeclarationInput:
    name: str = strawberry.field(description="The action name steps use, e.g. `move_file`.")
    parameter_schema: JSON = strawberry.field(
        description="A JSON Schema (draft 2020-12) for the step's `params`."
    )
    reversibility: Reversibility = strawberry.field(description="How far undo can take it back.")
    description: str | None = strawberry.field(default=None, description="What it does.")

    def declaration(self) -> dict[str, object]:
        declared: dict[str, object] = {
            "name": self.name,
            "parameterSchema": self.parameter_schema,
            "reversibility": self.reversibility.value,
        }
        if self.description is not None:
            declared["description"] = self.description
        return declared


@strawberry.input(description="An executor and the actions it can run.")
class RegisterExecutorInput:
    name: str = strawberry.field(description="1 to 64 characters, e.g. `file-organiser`.")
    actions: list[ActionDeclarationInput] = strawberry.field(description="1 to 100 actions.")


@strawberry.type(description="A registered executor.")
class Executor:
    name: str = strawberry.field(description="Its name; tasks choose it with context.executor.")
    version: int = strawberry.field(description="1 at first, one more on each registration.")
    actions: JSON = strawberry.field(
        description="`[{name, parameterSchema, reversibility, description}]`."
    )
    updated_at: datetime = strawberry.field(description="When it was last registered.")

    @classmethod
    def from_model(cls, row: RegisteredExecutor) -> Executor:
        return cls(
            name=row.name,
            version=row.version,
            actions=JSON(list(row.actions)),
            updated_at=row.updated_at,
        )
