"""partial index on task_events still without a global position

Positions are handed out after commit (db/event_log.py); each numbering pass looks for
the rows still without one, which this index keeps to the few rows committed since the
last pass instead of a scan of the whole log.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_task_events_unpositioned",
        "task_events",
        ["task_id", "seq"],
        postgresql_where=sa.text("global_seq IS NULL"),
        sqlite_where=sa.text("global_seq IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_task_events_unpositioned", table_name="task_events")
