"""event log global position: task_events.user_id, task_events.global_seq, event_log_counter

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_log_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("task_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("global_seq", sa.BigInteger(), nullable=True))
    # Existing events get positions in the order they were written.
    op.execute(
        """
        UPDATE task_events SET
            user_id = (SELECT tasks.user_id FROM tasks WHERE tasks.id = task_events.task_id),
            global_seq = (
                SELECT numbered.position FROM (
                    SELECT task_id, seq,
                           ROW_NUMBER() OVER (ORDER BY created_at, task_id, seq) AS position
                    FROM task_events
                ) AS numbered
                WHERE numbered.task_id = task_events.task_id AND numbered.seq = task_events.seq
            )
        """
    )
    op.execute(
        "INSERT INTO event_log_counter (id, value) "
        "SELECT 1, COALESCE(MAX(global_seq), 0) FROM task_events"
    )
    with op.batch_alter_table("task_events", schema=None) as batch_op:
        batch_op.create_index("ux_task_events_global_seq", ["global_seq"], unique=True)
        batch_op.create_index(
            "ix_task_events_user_global_seq", ["user_id", "global_seq"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("task_events", schema=None) as batch_op:
        batch_op.drop_index("ix_task_events_user_global_seq")
        batch_op.drop_index("ux_task_events_global_seq")
        batch_op.drop_column("global_seq")
        batch_op.drop_column("user_id")
    op.drop_table("event_log_counter")
