"""resume positions: where each resumable graphql-transport-ws subscription stands

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "resume_positions",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("resume_key", sa.String(length=128), nullable=False),
        sa.Column("operation_id", sa.String(length=128), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "resume_key", "operation_id"),
    )
    op.create_index("ix_resume_positions_updated", "resume_positions", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_resume_positions_updated", table_name="resume_positions")
    op.drop_table("resume_positions")
