"""study name: experiment.study_name, chosen before the experiment exists

A search's first configurations are proposed by Optuna before the experiment and its runs
are written in one transaction, so the study can no longer be named by the experiment id.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("experiment") as batch:
        batch.add_column(sa.Column("study_name", sa.String(100), nullable=True))
    # Existing searches keep the study they were created with. Single-run experiments store
    # `search` as JSON null (not SQL NULL) and plan no configurations.
    op.execute(
        "UPDATE experiment SET study_name = 'reglab-experiment-' || id "
        "WHERE configurations_planned > 0"
    )


def downgrade() -> None:
    with op.batch_alter_table("experiment") as batch:
        batch.drop_column("study_name")
