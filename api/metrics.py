"""``GET /api/monitoring/metrics``: the store's period numbers, judged and shaped for JSON.

The numbers come from ``store.metrics`` (aggregated by the database). What they mean is
decided here, in small pure functions:

- Trends compare the period with the one before it; a change within ±10% is ``stable``.
  Executions compare runs *per hour* (the current period is still running, the one before
  is complete); success rate and average duration compare as they are. Without runs on
  either side there is nothing to compare: ``stable`` (executions: ``increasing`` when
  runs appear after none).
- Health: ``unhealthy`` with an open CRITICAL alert or a success rate under 80% (the
  predefined rule's threshold); ``degraded`` with any other open alert, a circuit breaker
  that is not CLOSED, or a success rate under 95%; ``healthy`` otherwise. A period without
  runs says nothing about the success rate.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import QueryParameter
from sqlalchemy import Engine

from api.envelope import REQUEST_ID_HEADER, Clock, meta_for, request_id
from api.schemas import (
    AlertCounts,
    BySeverity,
    DatabaseHealth,
    ErrorEnvelope,
    ExecutionTrend,
    HealthStatus,
    HourlyExecutions,
    MetricsData,
    MetricsEnvelope,
    PerformanceTrend,
    RecentExecution,
    StepSummary,
    SuccessRateTrend,
    Summary,
    SystemHealth,
    Trends,
    WorkflowSummary,
)
from store import json_timestamp
from store.metrics import HourMetrics, Period, PeriodMetrics, WorkflowMetrics, period_metrics

__all__ = ["MetricsController", "health_status", "metrics_data", "trend"]

STABLE_WITHIN = 0.10
UNHEALTHY_BELOW = 80.0
DEGRADED_BELOW = 95.0

EngineDep = NamedDependency[Engine]
ClockDep = NamedDependency[Clock]

ERRORS = {
    400: ResponseSpec(ErrorEnvelope, description="A bad parameter (INVALID_PARAMETER)"),
    503: ResponseSpec(ErrorEnvelope, description="The database is unreachable"),
}


def trend(current: float, previous: float) -> int:
    """+1 when ``current`` is more than 10% above ``previous``, -1 more than 10% below, else 0."""
    if previous == 0:
        return 1 if current > 0 else 0
    change = (current - previous) / previous
    if change > STABLE_WITHIN:
        return 1
    if change < -STABLE_WITHIN:
        return -1
    return 0


def _trends(metrics: PeriodMetrics) -> tuple[ExecutionTrend, SuccessRateTrend, PerformanceTrend]:
    now, before, window = metrics.summary, metrics.previous, metrics.window
    executions = trend(now.runs / window.hours, before.runs / window.previous_hours)
    compared = now.runs > 0 and before.runs > 0
    success = trend(now.success_rate, before.success_rate) if compared else 0
    timed = now.timed_runs > 0 and before.timed_runs > 0
    slower = trend(now.average_duration_ms, before.average_duration_ms) if timed else 0
    execution_names: dict[int, ExecutionTrend] = {
        1: "increasing",
        -1: "decreasing",
        0: "stable",
    }
    success_names: dict[int, SuccessRateTrend] = {1: "improving", -1: "declining", 0: "stable"}
    # Longer runs are worse: a duration going up is performance degrading.
    performance_names: dict[int, PerformanceTrend] = {
        1: "degrading",
        -1: "improving",
        0: "stable",
    }
    return execution_names[executions], success_names[success], performance_names[slower]


def health_status(metrics: PeriodMetrics) -> HealthStatus:
    """The system's health from open alerts, breakers and the period's success rate."""
    alerts = metrics.alerts
    summary = metrics.summary
    rate = summary.success_rate if summary.runs else None
    if alerts["open_by_severity"]["CRITICAL"] > 0 or (rate is not None and rate < UNHEALTHY_BELOW):
        return "unhealthy"
    open_alerts = sum(alerts["open_by_severity"].values())
    breakers_open = any(workflow.circuit_state != "CLOSED" for workflow in metrics.workflows)
    if open_alerts or breakers_open or (rate is not None and rate < DEGRADED_BELOW):
        return "degraded"
    return "healthy"


def metrics_data(metrics: PeriodMetrics) -> MetricsData:
    """The JSON ``data`` of the metrics response."""
    summary, percentiles, alerts = metrics.summary, metrics.percentiles, metrics.alerts
    execution, success, performance = _trends(metrics)
    return MetricsData(
        summary=Summary(
            total_executions=summary.runs,
            successful_executions=summary.successful,
            failed_executions=summary.failed,
            degraded_executions=summary.degraded,
            skipped_executions=summary.skipped,
            retried_executions=summary.retried,
            success_rate=summary.success_rate,
            average_duration=summary.average_duration_ms,
            p50_duration=percentiles.p50,
            p95_duration=percentiles.p95,
            p99_duration=percentiles.p99,
        ),
        workflows=[_workflow(workflow) for workflow in metrics.workflows],
        system=SystemHealth(
            health_status=health_status(metrics),
            active_alerts=alerts["by_state"]["ACTIVE"],
            critical_alerts=alerts["open_by_severity"]["CRITICAL"],
            database=DatabaseHealth(status="up", latency_ms=metrics.database_latency_ms),
        ),
        trends=Trends(
            execution_trend=execution,
            success_rate_trend=success,
            performance_trend=performance,
            hourly_executions=_hourly(metrics.hours),
        ),
        alerts=AlertCounts(
            total=alerts["total"],
            active=alerts["by_state"]["ACTIVE"],
            acknowledged=alerts["by_state"]["ACKNOWLEDGED"],
            resolved=alerts["by_state"]["RESOLVED"],
            by_severity=BySeverity(**alerts["by_severity"]),
        ),
    )


@functools.lru_cache(maxsize=2048)
def _hour_stamp(hour: datetime) -> str:
    # The same few hundred hours come in every request (30d has 744): format each once.
    return json_timestamp(hour)


def _hourly(hours: tuple[HourMetrics, ...]) -> list[HourlyExecutions]:
    # 744 points for 30 days: unpacked and passed by position, the cheapest way to build them.
    return [
        HourlyExecutions(_hour_stamp(hour), runs, successful, failed, average_duration_ms)
        for hour, runs, successful, failed, average_duration_ms in hours
    ]


def _workflow(workflow: WorkflowMetrics) -> WorkflowSummary:
    counts = workflow.counts
    return WorkflowSummary(
        workflow_name=workflow.workflow,
        environment=workflow.environment,
        priority=workflow.priority,
        execution_count=counts.runs,
        success_rate=counts.success_rate,
        average_duration=counts.average_duration_ms,
        p95_duration=workflow.p95_duration_ms,
        last_status=workflow.last_status,
        last_executed_at=json_timestamp(workflow.last_started_at),
        consecutive_failures=workflow.consecutive_failures,
        circuit_state=workflow.circuit_state,
        steps=None
        if workflow.steps is None
        else [
            StepSummary(
                name=step.name,
                count=step.runs,
                failures=step.failures,
                average_duration=step.average_duration_ms,
                p95_duration=step.p95_duration_ms,
            )
            for step in workflow.steps
        ],
        recent_executions=None
        if workflow.recent is None
        else [
            RecentExecution(
                id=str(run.id),
                status=run.status,
                started_at=json_timestamp(run.started_at),
                duration_ms=run.duration_ms,
                attempts=run.attempts,
                error_type=run.error_type,
                failed_step=run.failed_step,
            )
            for run in workflow.recent
        ],
    )


class MetricsController(Controller):
    """Summary, per-workflow numbers, health, trends and alert counts for a period."""

    path = "/api/monitoring/metrics"
    tags = ["metrics"]

    @get(
        name="metrics",
        summary="Metrics for a period",
        sync_to_thread=True,
        responses=ERRORS,
    )
    def metrics(
        self,
        request: Request[Any, Any, Any],
        engine: EngineDep,
        clock: ClockDep,
        period: Annotated[
            Period,
            QueryParameter(
                description="1h: the last 60 minutes; 24h: this hour and the 24 "
                "before; 7d / 30d: today and the 7 / 30 days before (UTC)"
            ),
        ] = Period.DAY,
        details: Annotated[
            bool, QueryParameter(description="Add steps[] and recentExecutions[] per workflow")
        ] = False,
    ) -> Response[MetricsEnvelope]:
        """Everything the dashboard shows, aggregated by the database."""
        metrics = period_metrics(engine, period=period, now=clock(), details=details)
        envelope = MetricsEnvelope(
            success=True,
            data=metrics_data(metrics),
            error=None,
            meta=meta_for(request, period=period.value),
        )
        return Response(envelope, headers={REQUEST_ID_HEADER: request_id(request)})
