"""The SQLModel tables: one ``XBase`` of shared columns, one ``X(table=True)`` per table.

Every table of the store lives here so ``SQLModel.metadata`` (what Alembic compares the
migrations against) is complete once this module is imported. Later concerns (circuit
breakers, alerts, the notification outbox, hourly rollups) add their tables below, each in
its own section, and their queries in their own module beside ``runs.py``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, DateTime, Dialect, Index, Integer, String, Text, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

# Deterministic constraint names: Alembic can only drop or alter a constraint it can name,
# and SQLite batch migrations need names to rebuild tables.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that goes in and comes out as an aware UTC ``datetime`` on every backend."""

    # TIMESTAMP WITH TIME ZONE on PostgreSQL; SQLite has no zone, so it stores naive UTC text.
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive values (their zone is a guess); store the UTC instant."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware (UTC) datetime")
        value = value.astimezone(UTC)
        # SQLite would write the offset into the text and break lexical ordering of mixed
        # zones; all values are UTC, so store them without it.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Give back an aware UTC value whatever the backend or session time zone."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# --- runs and their steps ------------------------------------------------------------------


class RunBase(SQLModel):
    """What a workflow run records (SPEC §4); enums are stored as their string values."""

    workflow: str = Field(sa_type=String(200))
    environment: str = Field(sa_type=String(100))
    priority: str = Field(sa_type=String(16))
    status: str = Field(sa_type=String(16))
    started_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime = Field(sa_type=UTCDateTime)
    duration_ms: float
    # 0 is legitimate: a run skipped by an open circuit breaker sent no request.
    attempts: int
    error_type: str | None = Field(default=None, sa_type=String(16))
    error_message: str | None = Field(default=None, sa_type=Text)
    failed_step: str | None = Field(default=None, sa_type=Text)
    flow_run_id: str | None = Field(default=None, sa_type=String(64))
    trace_id: str | None = Field(default=None, sa_type=String(64))


class Run(RunBase, table=True):
    """One workflow run; its id is ours (generated before insert) so callers can link to it."""

    __tablename__ = "runs"
    __table_args__ = (
        # "runs of workflow W since T" (per-workflow metrics, consecutive failures, RATE rules).
        Index("ix_runs_workflow_started_at", "workflow", "started_at"),
        # "runs since T" (summary metrics, executions list, retention).
        Index("ix_runs_started_at", "started_at"),
        CheckConstraint("duration_ms >= 0", name="duration_ms_not_negative"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)


class RunStepBase(SQLModel):
    """What one step of a run records; ``conditions`` holds ``{condition, display, success}``."""

    position: int
    name: str = Field(sa_type=Text)
    status: str = Field(sa_type=String(16))
    http_status: int | None = None
    duration_ms: float
    attempts: int
    error_type: str | None = Field(default=None, sa_type=String(16))
    error_message: str | None = Field(default=None, sa_type=Text)
    # Always read and written whole with the step, never queried into: JSON, not a table.
    conditions: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)


class RunStep(RunStepBase, table=True):
    """One step of a run, in order; deleted with its run."""

    __tablename__ = "step_results"
    __table_args__ = (
        # A step's place in its run is unique, and this is how steps are read back.
        Index("ix_step_results_run_id_position", "run_id", "position", unique=True),
        CheckConstraint("position >= 0", name="position_not_negative"),
        CheckConstraint("duration_ms >= 0", name="duration_ms_not_negative"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint(
            "http_status IS NULL OR (http_status >= 100 AND http_status <= 599)",
            name="http_status_valid",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: uuid.UUID = Field(foreign_key="runs.id", ondelete="CASCADE")


# --- circuit breakers ----------------------------------------------------------------------


class CircuitBreakerBase(SQLModel):
    """One breaker's state as ``tasks.breaker.Breaker`` holds it; the state is its string value."""

    state: str = Field(sa_type=String(16))
    consecutive_failures: int
    opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    probe_started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When the breaker last changed, for `wfmon breaker list`; the state machine never reads it.
    updated_at: datetime = Field(sa_type=UTCDateTime)


class CircuitBreaker(CircuitBreakerBase, table=True):
    """The one breaker per key (``workflow@environment``) every process and worker shares."""

    __tablename__ = "circuit_breakers"
    __table_args__ = (
        CheckConstraint("state IN ('CLOSED', 'OPEN', 'HALF_OPEN')", name="state_valid"),
        CheckConstraint("consecutive_failures >= 0", name="consecutive_failures_not_negative"),
    )

    # Text, not String(n): library callers key breakers by any name, and a length limit
    # that only PostgreSQL enforces would fail there alone.
    key: str = Field(primary_key=True, sa_type=Text)


# --- alerts and their history --------------------------------------------------------------

# An alert is open until it is resolved. Partial indexes take their predicate as SQL text, and
# SQLite and PostgreSQL both accept this one as written.
ALERT_IS_OPEN = "state != 'RESOLVED'"


class AlertBase(SQLModel):
    """One alert as ``rules.models.Alert`` holds it; enums are stored as their string values."""

    rule_id: str = Field(sa_type=Text)
    workflow: str = Field(sa_type=String(200))
    environment: str = Field(sa_type=String(100))
    severity: str = Field(sa_type=String(16))
    state: str = Field(sa_type=String(16))
    message: str = Field(sa_type=Text)
    first_seen: datetime = Field(sa_type=UTCDateTime)
    last_seen: datetime = Field(sa_type=UTCDateTime)
    count: int
    # Read and written whole with the alert, never queried into: JSON, not tables.
    channels: list[str] = Field(default_factory=list, sa_type=JSON)
    last_notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    notified: bool = False
    acknowledged_by: str | None = Field(default=None, sa_type=Text)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    escalated: bool = False
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class AlertRow(AlertBase, table=True):
    """One alert, open or resolved; resolved alerts stay as the rule's history."""

    __tablename__ = "alerts"
    __table_args__ = (
        # The database, not the caller, guarantees at most one open alert per identity:
        # two post-run flows evaluating the same rule at once cannot both open one.
        Index(
            "ix_alerts_open_key",
            "rule_id",
            "workflow",
            "environment",
            unique=True,
            sqlite_where=text(ALERT_IS_OPEN),
            postgresql_where=text(ALERT_IS_OPEN),
        ),
        # "the last N alerts of rule R" (alert_history).
        Index("ix_alerts_rule_id_first_seen", "rule_id", "first_seen"),
        # The alerts list, newest activity first.
        Index("ix_alerts_last_seen", "last_seen"),
        CheckConstraint("state IN ('ACTIVE', 'ACKNOWLEDGED', 'RESOLVED')", name="state_valid"),
        CheckConstraint(
            "severity IN ('INFO', 'WARNING', 'ERROR', 'CRITICAL')", name="severity_valid"
        ),
        CheckConstraint("count >= 1", name="count_positive"),
    )

    # Text: the id comes from the caller's ``new_id`` (rules.lifecycle), whatever its length.
    id: str = Field(primary_key=True, sa_type=Text)


class AlertEventBase(SQLModel):
    """One thing that happened to an alert: opened, reminded, acknowledged, suppressed..."""

    at: datetime = Field(sa_type=UTCDateTime)
    kind: str = Field(sa_type=String(16))
    note: str | None = Field(default=None, sa_type=Text)


class AlertEventRow(AlertEventBase, table=True):
    """An alert's history, in order; deleted with its alert."""

    __tablename__ = "alert_events"
    __table_args__ = (
        # An alert's history is always read whole and in order.
        Index("ix_alert_events_alert_id_at", "alert_id", "at"),
        CheckConstraint(
            "kind IN ('opened', 'notified', 'repeated', 'reminded', 'escalated', "
            "'acknowledged', 'resolved', 'suppressed')",
            name="kind_valid",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    alert_id: str = Field(foreign_key="alerts.id", ondelete="CASCADE", sa_type=Text)


# --- the notification outbox ---------------------------------------------------------------


class DeliveryBase(SQLModel):
    """One notification to one channel and how sending it went (SPEC §5: never lost)."""

    # The channel's *name* only: its Apprise URLs carry credentials, so the sender looks them
    # up in the config when it sends and they never reach the database.
    channel: str = Field(sa_type=Text)
    kind: str = Field(sa_type=String(16))
    title: str = Field(sa_type=Text)
    body: str = Field(sa_type=Text)
    status: str = Field(sa_type=String(16))
    # Claims so far (each is a send attempt, including one whose sender died mid-way).
    attempts: int = 0
    # When a sender may next claim it: due now, after a retry's backoff, or after a lease.
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeliveryRow(DeliveryBase, table=True):
    """One outbox entry; it outlives its alert (the record of what was sent stays)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        # "due deliveries, oldest first" (claim_due), the query every sender polls.
        Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_deliveries_alert_id", "alert_id"),
        CheckConstraint("status IN ('pending', 'retrying', 'sent', 'failed')", name="status_valid"),
        CheckConstraint("kind IN ('notify', 'remind', 'resolved', 'escalate')", name="kind_valid"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    alert_id: str | None = Field(
        default=None, foreign_key="alerts.id", ondelete="SET NULL", sa_type=Text
    )


# --- hourly rollups ------------------------------------------------------------------------
# Written by ``store.rollups`` in the transaction that records each run, read by
# ``store.metrics``: the metrics API reads these instead of the (possibly millions of) runs.


class RollupCountsBase(SQLModel):
    """Run counts of one slice of time; what a period's summary and trends add up."""

    runs: int = 0
    passed: int = 0
    degraded: int = 0
    failed: int = 0
    skipped: int = 0
    # Runs with attempts > 1: something was retried (README "Run attempts").
    retried: int = 0
    # Runs that sent requests (all but skipped): the runs that durations are averaged over.
    timed_runs: int = 0
    duration_sum_ms: float = 0.0


class HourlyRollup(RollupCountsBase, table=True):
    """One workflow in one environment for one UTC hour (periods of hours: 24h)."""

    __tablename__ = "rollup_hours"

    hour: datetime = Field(primary_key=True, sa_type=UTCDateTime)
    workflow: str = Field(primary_key=True, sa_type=String(200))
    environment: str = Field(primary_key=True, sa_type=String(100))


class DailyRollup(RollupCountsBase, table=True):
    """One workflow in one environment for one UTC day (periods of days: 7d, 30d)."""

    __tablename__ = "rollup_days"

    day: datetime = Field(primary_key=True, sa_type=UTCDateTime)
    workflow: str = Field(primary_key=True, sa_type=String(200))
    environment: str = Field(primary_key=True, sa_type=String(100))


class HourTotal(RollupCountsBase, table=True):
    """Every workflow together for one UTC hour: the hourly series and period totals."""

    __tablename__ = "rollup_hour_totals"

    hour: datetime = Field(primary_key=True, sa_type=UTCDateTime)


class LatencyTotal(SQLModel, table=True):
    """All-time count of timed runs at or below each duration bucket (``store.latency``)."""

    __tablename__ = "latency_totals"

    workflow: str = Field(primary_key=True, sa_type=String(200))
    environment: str = Field(primary_key=True, sa_type=String(100))
    bucket: int = Field(primary_key=True, sa_type=Integer)
    runs_at_most: int
    # The series' timed runs in all, on every row: a period's total without a second pass.
    series_runs: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})


class LatencyMark(SQLModel, table=True):
    """A moment at which ``latency_totals`` was copied into ``latency_snapshots``."""

    __tablename__ = "latency_marks"

    starts_at: datetime = Field(primary_key=True, sa_type=UTCDateTime)
    # The first mark of its UTC day is kept for the day-long periods; others only briefly.
    first_of_day: bool


class LatencySnapshot(SQLModel, table=True):
    """``latency_totals`` as it was at a mark (runs started before it): totals - this = since."""

    __tablename__ = "latency_snapshots"

    starts_at: datetime = Field(primary_key=True, sa_type=UTCDateTime)
    workflow: str = Field(primary_key=True, sa_type=String(200))
    environment: str = Field(primary_key=True, sa_type=String(100))
    bucket: int = Field(primary_key=True, sa_type=Integer)
    runs_at_most: int
    series_runs: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})


class WorkflowState(SQLModel, table=True):
    """A workflow in an environment as of its newest run: what the metrics report as current.

    Kept with each run (``store.rollups``) so that reading it is one row per workflow, not a
    walk of the runs index per workflow and request.
    """

    __tablename__ = "workflow_state"

    workflow: str = Field(primary_key=True, sa_type=String(200))
    environment: str = Field(primary_key=True, sa_type=String(100))
    priority: str = Field(sa_type=String(16))
    last_run_id: uuid.UUID
    last_status: str = Field(sa_type=String(16))
    last_started_at: datetime = Field(sa_type=UTCDateTime)
    # Failed runs since the newest passed or degraded one; skipped runs neither count nor break.
    consecutive_failures: int
