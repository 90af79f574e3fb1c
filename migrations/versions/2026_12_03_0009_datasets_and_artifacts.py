"""datasets and artifacts: uploaded dataset versions (numbers never reused), what a run
trained on and left behind

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "dataset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("input_shape", JSON, nullable=False),
        sa.Column("class_names", JSON, nullable=False),
        sa.Column("class_counts", JSON, nullable=False),
        sa.Column("test_class_counts", JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_dataset_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset")),
        sa.UniqueConstraint("project_id", "name", "version", name="uq_dataset_version"),
        sa.UniqueConstraint(
            "project_id", "name", "sha256", "format", "label", name="uq_dataset_content"
        ),
    )
    op.create_index(op.f("ix_dataset_sha256"), "dataset", ["sha256"], unique=False)
    op.create_table(
        "dataset_name",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("last_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_dataset_name_project_id_project")
        ),
        sa.PrimaryKeyConstraint("project_id", "name", name=op.f("pk_dataset_name")),
    )
    op.create_table(
        "artifact",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["run.id"], name=op.f("fk_artifact_run_id_run"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "name", name=op.f("pk_artifact")),
    )
    op.create_index(op.f("ix_artifact_sha256"), "artifact", ["sha256"], unique=False)
    # Null for built-in data, and for runs that have not started.
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("dataset_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("dataset_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.drop_column("dataset_sha256")
        batch.drop_column("dataset_version")
    op.drop_index(op.f("ix_artifact_sha256"), table_name="artifact")
    op.drop_table("artifact")
    op.drop_table("dataset_name")
    op.drop_index(op.f("ix_dataset_sha256"), table_name="dataset")
    op.drop_table("dataset")
