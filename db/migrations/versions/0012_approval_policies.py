"""approval policies: step and request policies, reviewer roles, one row per decision

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reviewer_roles", _json(), nullable=True))
    with op.batch_alter_table("task_steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approval_policy", _json(), nullable=True))
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("policy", _json(), nullable=True))
    op.create_table(
        "approval_decisions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("approval_id", sa.Uuid(), nullable=False),
        sa.Column("decided_by", sa.String(length=255), nullable=False),
        sa.Column("decision", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("parameters_before", _json(), nullable=True),
        sa.Column("parameters_after", _json(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["approval_id"], ["approval_requests.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ux_approval_decisions_by",
        "approval_decisions",
        ["approval_id", "decided_by"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ux_approval_decisions_by", table_name="approval_decisions")
    op.drop_table("approval_decisions")
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.drop_column("policy")
    with op.batch_alter_table("task_steps", schema=None) as batch_op:
        batch_op.drop_column("approval_policy")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("reviewer_roles")
