"""experiment.idempotency_key (unique per project), request_fingerprint and cancelled_at

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("experiment") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("request_fingerprint", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_unique_constraint(
            "uq_experiment_project_id", ["project_id", "idempotency_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("experiment") as batch:
        batch.drop_constraint("uq_experiment_project_id", type_="unique")
        batch.drop_column("cancelled_at")
        batch.drop_column("request_fingerprint")
        batch.drop_column("idempotency_key")
