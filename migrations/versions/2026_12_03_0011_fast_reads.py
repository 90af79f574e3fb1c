"""fast reads: per-block minima and maxima of the metric series (metric_block), filled from
the stored epochs; run summaries indexed by value

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The widths the store keeps (models.store.metric_blocks.BLOCK_WIDTHS), each 4 times the last.
WIDTHS = (16, 64, 256, 1024, 4096, 16384, 65536)
COLUMNS = "run_id, name, width, block, min_value, min_epoch, max_value, max_epoch"


def _extremes(dialect: str, source: str, block: str, ends: tuple[str, str, str, str]) -> str:
    """Per run, series and block: the least minimum and the greatest maximum, with epochs."""
    low_value, low_epoch, high_value, high_epoch = ends
    groups = f"FROM {source} GROUP BY run_id, name, {block}"
    if dialect == "postgresql":
        low = f"min(ARRAY[{low_value}, {low_epoch}::float8])"
        high = f"max(ARRAY[{high_value}, {high_epoch}::float8])"
        pairs = (
            f"({low})[1] AS min_value, ({low})[2]::int AS min_epoch, "
            f"({high})[1] AS max_value, ({high})[2]::int AS max_epoch"
        )
        return f"SELECT run_id, name, {block} AS block, {pairs} {groups}"
    # SQLite: a bare column comes from the row that holds the lone min() or max().
    low = f"SELECT run_id, name, {block} AS block, min({low_value}) AS v, {low_epoch} AS e"
    high = f"SELECT run_id, name, {block} AS block, max({high_value}) AS v, {high_epoch} AS e"
    return (
        "SELECT l.run_id, l.name, l.block, l.v AS min_value, l.e AS min_epoch, "
        f"h.v AS max_value, h.e AS max_epoch FROM ({low} {groups}) AS l "
        f"JOIN ({high} {groups}) AS h USING (run_id, name, block)"
    )


def upgrade() -> None:
    op.create_index(
        "ix_run_summary_name_value", "run_summary", ["name", "value", "run_id"], unique=False
    )
    op.create_table(
        "metric_block",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("block", sa.Integer(), nullable=False),
        sa.Column("min_value", sa.Double(), nullable=False),
        sa.Column("min_epoch", sa.Integer(), nullable=False),
        sa.Column("max_value", sa.Double(), nullable=False),
        sa.Column("max_epoch", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["run.id"], name=op.f("fk_metric_block_run_id_run"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "name", "width", "block", name=op.f("pk_metric_block")),
    )
    # The blocks of the epochs stored so far, each width from the one below it, for the runs
    # whose history has reached it (the store keeps no wider ones).
    dialect = op.get_bind().dialect.name
    for level, width in enumerate(WIDTHS):
        reached = f"run_id IN (SELECT id FROM run WHERE epochs_done >= {width})"
        if level == 0:
            source, block = f"(SELECT * FROM metric WHERE {reached}) AS m", f"(epoch - 1) / {width}"
            ends = ("value", "epoch", "value", "epoch")
        else:
            finer = f"width = {WIDTHS[level - 1]} AND {reached}"
            source, block = f"(SELECT * FROM metric_block WHERE {finer}) AS child", "block / 4"
            ends = ("min_value", "min_epoch", "max_value", "max_epoch")
        rows = _extremes(dialect, source, block, ends)
        op.execute(
            f"INSERT INTO metric_block ({COLUMNS}) SELECT run_id, name, {width}, block, "
            f"min_value, min_epoch, max_value, max_epoch FROM ({rows}) AS s"
        )


def downgrade() -> None:
    op.drop_index("ix_run_summary_name_value", table_name="run_summary")
    op.drop_table("metric_block")
