"""indexes on task_logs.step_id and approval_requests.step_id

Both reference task_steps with ON DELETE CASCADE: without an index, deleting a task (and
so its steps) scans every log and approval row for each step.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_task_logs_step_id", "task_logs", ["step_id"])
    op.create_index("ix_approval_requests_step_id", "approval_requests", ["step_id"])


def downgrade() -> None:
    op.drop_index("ix_approval_requests_step_id", table_name="approval_requests")
    op.drop_index("ix_task_logs_step_id", table_name="task_logs")
