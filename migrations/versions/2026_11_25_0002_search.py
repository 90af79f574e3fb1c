"""search: experiment.search and its counters; run configuration, trial and objective

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("experiment") as batch:
        batch.add_column(sa.Column("search", JSON, nullable=True))
        for counter in ("configurations_started", "configurations_planned"):
            batch.add_column(sa.Column(counter, sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("configuration", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("trial_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("objective_value", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.drop_column("objective_value")
        batch.drop_column("trial_id")
        batch.drop_column("configuration")
    with op.batch_alter_table("experiment") as batch:
        batch.drop_column("configurations_planned")
        batch.drop_column("configurations_started")
        batch.drop_column("search")
