"""approval_requests.decided_by in the audit log's actor form: user:<subject>

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

Human decisions used to record the bare subject while the audit log wrote
`user:<subject>` for the same person; both now use the actor form. Expiries already
read `system:timeout`.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        UPDATE approval_requests SET decided_by = 'user:' || decided_by
        WHERE decided_by IS NOT NULL
          AND decided_by NOT LIKE 'system:%'
          AND decided_by NOT LIKE 'user:%'
        """
    )


def downgrade() -> None:
    op.execute(
        """
        UPDATE approval_requests SET decided_by = SUBSTR(decided_by, 6)
        WHERE decided_by LIKE 'user:%'
        """
    )
