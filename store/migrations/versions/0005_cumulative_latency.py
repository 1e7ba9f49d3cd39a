"""Latency histograms count runs at or below each bucket; every rollup rebuilt from the runs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The rows are rebuilt below: the old per-bucket counts need not be converted.
    op.execute("DELETE FROM latency_snapshots")
    op.execute("DELETE FROM latency_marks")
    op.execute("DELETE FROM latency_totals")
    with op.batch_alter_table("latency_totals") as batch:
        batch.alter_column("runs", new_column_name="runs_at_most")
    with op.batch_alter_table("latency_snapshots") as batch:
        batch.alter_column("runs_before", new_column_name="runs_at_most")
    # The runs already stored get their rollups from 0006, which rebuilds them all.


def downgrade() -> None:
    op.execute("DELETE FROM latency_snapshots")
    op.execute("DELETE FROM latency_marks")
    op.execute("DELETE FROM latency_totals")
    with op.batch_alter_table("latency_snapshots") as batch:
        batch.alter_column("runs_at_most", new_column_name="runs_before")
    with op.batch_alter_table("latency_totals") as batch:
        batch.alter_column("runs_at_most", new_column_name="runs")
