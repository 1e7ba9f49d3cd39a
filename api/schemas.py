"""What the API returns (SPEC §6): camelCase JSON, described field by field in the OpenAPI.

Every response is an envelope ``{success, data, error, meta}``: ``data`` on success, ``error``
(``{code, message}``) on failure, ``meta`` always (``timestamp``, ``requestId``, and for the
metrics ``period``).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Struct

HealthStatus = Literal["healthy", "degraded", "unhealthy"]
ExecutionTrend = Literal["increasing", "decreasing", "stable"]
SuccessRateTrend = Literal["improving", "declining", "stable"]
PerformanceTrend = Literal["improving", "degrading", "stable"]


class Meta(Struct, rename="camel", omit_defaults=True):
    """When the answer was made, for which request, and (metrics) for which period."""

    timestamp: str
    request_id: str
    period: str | None = None


class ErrorBody(Struct, rename="camel"):
    """A machine-readable code (e.g. ``INVALID_PARAMETER``) and a message for people."""

    code: str
    message: str


class ErrorEnvelope(Struct, rename="camel"):
    """A failed request."""

    success: Literal[False]
    data: None
    error: ErrorBody
    meta: Meta


# --- metrics -------------------------------------------------------------------------------


class Summary(Struct, rename="camel"):
    """Every run of the period; rates in percent, durations in ms."""

    total_executions: int
    successful_executions: int
    failed_executions: int
    degraded_executions: int
    skipped_executions: int
    retried_executions: int
    success_rate: float
    average_duration: float
    p50_duration: float
    p95_duration: float
    p99_duration: float


class StepSummary(Struct, rename="camel"):
    """One step of a workflow over the period (``details=true``)."""

    name: str
    count: int
    failures: int
    average_duration: float
    p95_duration: float


class RecentExecution(Struct, rename="camel"):
    """One of a workflow's latest runs in the period (``details=true``)."""

    id: str
    status: str
    started_at: str
    duration_ms: float
    attempts: int
    error_type: str | None
    failed_step: str | None


class WorkflowSummary(Struct, rename="camel", omit_defaults=True):
    """One workflow in one environment: the period's numbers and its state now."""

    workflow_name: str
    environment: str
    priority: str
    execution_count: int
    success_rate: float
    average_duration: float
    p95_duration: float
    last_status: str
    last_executed_at: str
    consecutive_failures: int
    circuit_state: str
    steps: list[StepSummary] | None = None
    recent_executions: list[RecentExecution] | None = None


class DatabaseHealth(Struct, rename="camel"):
    """The store answered ``SELECT 1`` in ``latencyMs``."""

    status: Literal["up"]
    latency_ms: float


class SystemHealth(Struct, rename="camel"):
    """How things stand now."""

    health_status: HealthStatus
    active_alerts: int
    critical_alerts: int
    database: DatabaseHealth


class HourlyExecutions(Struct, rename="camel"):
    """Every workflow together in one UTC hour of the period."""

    hour: str
    total: int
    successful: int
    failed: int
    average_duration: float


class Trends(Struct, rename="camel"):
    """The period against the one before it (within ±10% is stable)."""

    execution_trend: ExecutionTrend
    success_rate_trend: SuccessRateTrend
    performance_trend: PerformanceTrend
    hourly_executions: list[HourlyExecutions]


class BySeverity(Struct):
    """Alerts per severity."""

    INFO: int
    WARNING: int
    ERROR: int
    CRITICAL: int


class AlertCounts(Struct, rename="camel"):
    """Alerts by state and severity (all stored alerts, not only the period's)."""

    total: int
    active: int
    acknowledged: int
    resolved: int
    by_severity: BySeverity


class MetricsData(Struct, rename="camel"):
    """``GET /api/monitoring/metrics``."""

    summary: Summary
    workflows: list[WorkflowSummary]
    system: SystemHealth
    trends: Trends
    alerts: AlertCounts


class MetricsEnvelope(Struct, rename="camel"):
    """The metrics of one period."""

    success: Literal[True]
    data: MetricsData
    error: None
    meta: Meta


# --- executions ----------------------------------------------------------------------------


class ConditionOut(Struct, rename="camel"):
    """One assertion of a step with its actual value."""

    condition: str
    display: str
    success: bool


class StepOut(Struct, rename="camel"):
    """One step of a run."""

    name: str
    status: str
    http_status: int | None
    duration_ms: float
    attempts: int
    error_type: str | None
    error_message: str | None
    conditions: list[ConditionOut]


class ExecutionOut(Struct, rename="camel"):
    """A run record, as ``wfmon run --json`` prints it."""

    id: str
    workflow_name: str
    environment: str
    priority: str
    status: str
    started_at: str
    finished_at: str
    duration_ms: float
    attempts: int
    error_type: str | None
    error_message: str | None
    failed_step: str | None
    flow_run_id: str | None
    trace_id: str | None
    steps: list[StepOut]


class ExecutionEnvelope(Struct, rename="camel"):
    """One run."""

    success: Literal[True]
    data: ExecutionOut
    error: None
    meta: Meta


class ExecutionListEnvelope(Struct, rename="camel"):
    """Runs, newest first."""

    success: Literal[True]
    data: list[ExecutionOut]
    error: None
    meta: Meta


# --- alerts and breakers -------------------------------------------------------------------


class AlertDetailsOut(Struct, rename="camel"):
    """What the latest matching run said."""

    run_id: str | None
    status: str | None
    failed_step: str | None
    failed_condition: str | None
    error_type: str | None
    error_message: str | None
    attempts: int
    matched: list[str]
    suppressed_by: str | None


class AlertOut(Struct, rename="camel"):
    """One alert; channels are names only (their URLs hold credentials)."""

    id: str
    rule_id: str
    workflow_name: str
    environment: str
    severity: str
    state: str
    message: str
    count: int
    first_seen: str
    last_seen: str
    channels: list[str]
    escalated: bool
    acknowledged_by: str | None
    acknowledged_at: str | None
    resolved_at: str | None
    details: AlertDetailsOut


class AlertEnvelope(Struct, rename="camel"):
    """One alert."""

    success: Literal[True]
    data: AlertOut
    error: None
    meta: Meta


class AlertListEnvelope(Struct, rename="camel"):
    """Alerts, latest seen first."""

    success: Literal[True]
    data: list[AlertOut]
    error: None
    meta: Meta


class Acknowledgement(Struct, rename="camel"):
    """Who acknowledges the alert."""

    by: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class BreakerOut(Struct, rename="camel"):
    """A circuit breaker after a reset."""

    name: str
    workflow_name: str
    environment: str
    state: str
    consecutive_failures: int


class BreakerEnvelope(Struct, rename="camel"):
    """The breaker that was reset."""

    success: Literal[True]
    data: BreakerOut
    error: None
    meta: Meta


# --- health --------------------------------------------------------------------------------


class HealthOut(Struct, rename="camel"):
    """The API is up and reaches its store."""

    status: Literal["ok"]
    database: DatabaseHealth


class HealthEnvelope(Struct, rename="camel"):
    """``GET /api/health``."""

    success: Literal[True]
    data: HealthOut
    error: None
    meta: Meta
