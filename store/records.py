"""Records as users see them (SPEC §6): runs (executions API, ``wfmon run --json``) and alerts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rules.models import Alert
from store.runs import RunRecord
from wfmon.results import ConditionResult, StepResult


def run_record_json(record: RunRecord) -> dict[str, Any]:
    """The camelCase JSON object for one stored run, steps and conditions included."""
    result = record.result
    return {
        "id": str(record.id),
        "workflowName": result.workflow,
        "environment": result.environment,
        "priority": str(result.priority),
        "status": str(result.status),
        "startedAt": json_timestamp(result.started_at),
        "finishedAt": json_timestamp(result.finished_at),
        "durationMs": result.duration_ms,
        "attempts": result.attempts,
        "errorType": None if result.error_type is None else str(result.error_type),
        "errorMessage": result.error_message,
        "failedStep": result.failed_step,
        "flowRunId": result.flow_run_id,
        "traceId": result.trace_id,
        "steps": [_step_json(step) for step in result.steps],
    }


def alert_json(alert: Alert) -> dict[str, Any]:
    """The camelCase JSON object for one alert (alerts API, ``wfmon alerts list --json``)."""
    details = alert.details
    return {
        "id": alert.id,
        "ruleId": alert.rule_id,
        "workflowName": alert.workflow,
        "environment": alert.environment,
        "severity": str(alert.severity),
        "state": str(alert.state),
        "message": alert.message,
        "count": alert.count,
        "firstSeen": json_timestamp(alert.first_seen),
        "lastSeen": json_timestamp(alert.last_seen),
        "channels": list(alert.channels),
        "escalated": alert.escalated,
        "acknowledgedBy": alert.acknowledged_by,
        "acknowledgedAt": _optional_timestamp(alert.acknowledged_at),
        "resolvedAt": _optional_timestamp(alert.resolved_at),
        "details": {
            "runId": details.run_id,
            "status": details.status,
            "failedStep": details.failed_step,
            "failedCondition": details.failed_condition,
            "errorType": details.error_type,
            "errorMessage": details.error_message,
            "attempts": details.attempts,
            "matched": list(details.matched),
            "suppressedBy": details.suppressed_by,
        },
    }


def _optional_timestamp(value: datetime | None) -> str | None:
    return None if value is None else json_timestamp(value)


def json_timestamp(value: datetime) -> str:
    """ISO-8601 in UTC with a ``Z`` and milliseconds, e.g. ``2026-05-20T12:00:00.250Z``."""
    # One fixed width for every timestamp, so clients can compare them as strings.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def _step_json(step: StepResult) -> dict[str, Any]:
    return {
        "name": step.name,
        "status": str(step.status),
        "httpStatus": step.http_status,
        "durationMs": step.duration_ms,
        "attempts": step.attempts,
        "errorType": None if step.error_type is None else str(step.error_type),
        "errorMessage": step.error_message,
        "conditions": [_condition_json(condition) for condition in step.conditions],
    }


def _condition_json(condition: ConditionResult) -> dict[str, Any]:
    return {
        "condition": condition.condition,
        "display": condition.display,
        "success": condition.success,
    }
