"""Alerts, their history, and the notification outbox.

Revision ID: 0003
Revises: 0002
Create Date: 2026-05-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# At most one open alert per (rule, workflow, environment); see store.tables.ALERT_IS_OPEN.
_ALERT_IS_OPEN = "state != 'RESOLVED'"


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("rule_id", sa.Text(), nullable=False),
        sa.Column("workflow", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=100), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("last_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notified", sa.Boolean(), nullable=False),
        sa.Column("acknowledged_by", sa.Text(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "state IN ('ACTIVE', 'ACKNOWLEDGED', 'RESOLVED')",
            name=op.f("ck_alerts_state_valid"),
        ),
        sa.CheckConstraint(
            "severity IN ('INFO', 'WARNING', 'ERROR', 'CRITICAL')",
            name=op.f("ck_alerts_severity_valid"),
        ),
        sa.CheckConstraint("count >= 1", name=op.f("ck_alerts_count_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(
        "ix_alerts_open_key",
        "alerts",
        ["rule_id", "workflow", "environment"],
        unique=True,
        sqlite_where=sa.text(_ALERT_IS_OPEN),
        postgresql_where=sa.text(_ALERT_IS_OPEN),
    )
    op.create_index(
        "ix_alerts_rule_id_first_seen", "alerts", ["rule_id", "first_seen"], unique=False
    )
    op.create_index("ix_alerts_last_seen", "alerts", ["last_seen"], unique=False)

    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('opened', 'notified', 'repeated', 'reminded', 'escalated', "
            "'acknowledged', 'resolved', 'suppressed')",
            name=op.f("ck_alert_events_kind_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_alert_events_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
    )
    op.create_index(
        "ix_alert_events_alert_id_at", "alert_events", ["alert_id", "at"], unique=False
    )

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Text(), nullable=True),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'retrying', 'sent', 'failed')",
            name=op.f("ck_deliveries_status_valid"),
        ),
        sa.CheckConstraint(
            "kind IN ('notify', 'remind', 'resolved', 'escalate')",
            name=op.f("ck_deliveries_kind_valid"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_deliveries_attempts_not_negative")),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_deliveries_alert_id_alerts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    op.create_index(
        "ix_deliveries_status_next_attempt_at",
        "deliveries",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_index("ix_deliveries_alert_id", "deliveries", ["alert_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_deliveries_alert_id", table_name="deliveries")
    op.drop_index("ix_deliveries_status_next_attempt_at", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_index("ix_alert_events_alert_id_at", table_name="alert_events")
    op.drop_table("alert_events")
    op.drop_index("ix_alerts_last_seen", table_name="alerts")
    op.drop_index("ix_alerts_rule_id_first_seen", table_name="alerts")
    op.drop_index("ix_alerts_open_key", table_name="alerts")
    op.drop_table("alerts")
