"""stall watch: tasks.resume_due_at and tasks.stalled_since

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resume_due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("stalled_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_tasks_resume_due_at", ["resume_due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_resume_due_at")
        batch_op.drop_column("stalled_since")
        batch_op.drop_column("resume_due_at")
