"""leases: run.queued_at and run.lease_expires_at

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE run SET queued_at = created_at")
    with op.batch_alter_table("run") as batch:
        batch.alter_column("queued_at", nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.drop_column("lease_expires_at")
        batch.drop_column("queued_at")
