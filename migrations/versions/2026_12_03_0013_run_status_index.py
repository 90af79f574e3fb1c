"""run status index: the monitoring scrape and the reconciler count runs of every project
by status, which the (project_id, status) index cannot serve

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_run_status"), "run", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_run_status"), table_name="run")
