"""Latency rows carry their series' total, an all-workflows series, and each workflow's
current state in a row; every rollup rebuilt from the runs.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("latency_totals", "latency_snapshots"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("series_runs", sa.Integer(), server_default=sa.text("0"), nullable=False)
            )
    op.create_table(
        "workflow_state",
        sa.Column("workflow", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=100), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("last_run_id", sa.Uuid(), nullable=False),
        sa.Column("last_status", sa.String(length=16), nullable=False),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("workflow", "environment", name=op.f("pk_workflow_state")),
    )
    # Runs recorded before this revision get their rollups now. This calls today's code:
    # if a later revision changes the rollup tables, freeze a copy of the backfill here
    # (and drop it from this one).
    from store.rollups import rebuild_rollups

    rebuild_rollups(op.get_bind())


def downgrade() -> None:
    op.drop_table("workflow_state")
    for table in ("latency_snapshots", "latency_totals"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("series_runs")
    # 0005's rows have no all-workflows series.
    op.execute("DELETE FROM latency_totals WHERE workflow = ''")
    op.execute("DELETE FROM latency_snapshots WHERE workflow = ''")
