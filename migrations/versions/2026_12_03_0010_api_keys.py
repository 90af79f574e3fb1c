"""api keys: a project's keys (the secret kept as an HMAC), and which key created or
cancelled experiments, runs and datasets

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
# Which key did what: null for rows made before keys existed, or by the admin CLI.
KEY_COLUMNS = [
    ("experiment", "created_by_key_id"),
    ("experiment", "cancelled_by_key_id"),
    ("run", "cancelled_by_key_id"),
    ("dataset", "created_by_key_id"),
]


def _key_reference(table: str, column: str) -> sa.Column[int]:
    name = op.f(f"fk_{table}_{column}_api_key")
    return sa.Column(column, sa.Integer(), sa.ForeignKey("api_key.id", name=name), nullable=True)


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=24), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("secret_hmac", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_key_id", sa.Integer(), nullable=True),
        sa.Column("revoked_by_key_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_key_id"],
            ["api_key.id"],
            name=op.f("fk_api_key_created_by_key_id_api_key"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_api_key_project_id_project")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_key_id"],
            ["api_key.id"],
            name=op.f("fk_api_key_revoked_by_key_id_api_key"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("key_id", name=op.f("uq_api_key_key_id")),
    )
    op.create_index(op.f("ix_api_key_project_id"), "api_key", ["project_id"], unique=False)
    # SQLite cannot add a foreign key to a table but by copying it, and copying `run` with
    # foreign keys enforced would cascade-delete its metrics: there the reference goes inline
    # in ADD COLUMN, which SQLite supports.
    inline = op.get_bind().dialect.name == "sqlite"
    for table, column in KEY_COLUMNS:
        op.add_column(table, _key_reference(table, column), inline_references=inline)


def downgrade() -> None:
    for table, column in reversed(KEY_COLUMNS):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
    op.drop_index(op.f("ix_api_key_project_id"), table_name="api_key")
    op.drop_table("api_key")
