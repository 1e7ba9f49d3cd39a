"""Hourly and daily run rollups and latency histograms, backfilled from the runs already stored.

Revision ID: 0004
Revises: 0003
Create Date: 2026-05-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _counts() -> list[sa.Column[object]]:
    return [
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("degraded", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("retried", sa.Integer(), nullable=False),
        sa.Column("timed_runs", sa.Integer(), nullable=False),
        sa.Column("duration_sum_ms", sa.Float(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "rollup_hours",
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("workflow", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=100), nullable=False),
        *_counts(),
        sa.PrimaryKeyConstraint("hour", "workflow", "environment", name=op.f("pk_rollup_hours")),
    )
    op.create_table(
        "rollup_days",
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("workflow", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=100), nullable=False),
        *_counts(),
        sa.PrimaryKeyConstraint("day", "workflow", "environment", name=op.f("pk_rollup_days")),
    )
    op.create_table(
        "rollup_hour_totals",
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        *_counts(),
        sa.PrimaryKeyConstraint("hour", name=op.f("pk_rollup_hour_totals")),
    )
    op.create_table(
        "latency_totals",
        sa.Column("workflow", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=100), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "workflow", "environment", "bucket", name=op.f("pk_latency_totals")
        ),
    )
    op.create_table(
        "latency_marks",
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_of_day", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("starts_at", name=op.f("pk_latency_marks")),
    )
    op.create_table(
        "latency_snapshots",
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("workflow", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=100), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("runs_before", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "starts_at", "workflow", "environment", "bucket", name=op.f("pk_latency_snapshots")
        ),
    )
    # The runs already stored get their rollups from 0005, which rebuilds them all.


def downgrade() -> None:
    op.drop_table("latency_snapshots")
    op.drop_table("latency_marks")
    op.drop_table("latency_totals")
    op.drop_table("rollup_hour_totals")
    op.drop_table("rollup_days")
    op.drop_table("rollup_hours")
