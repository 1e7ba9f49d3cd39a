"""Pure judgement of a whole run from its steps' results."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from wfmon.config.specs import WorkflowSpec
from wfmon.results import RunResult, RunStatus, StepResult


def judge_run(
    *,
    spec: WorkflowSpec,
    environment: str,
    steps: Sequence[StepResult],
    started_at: datetime,
    finished_at: datetime,
    flow_run_id: str | None = None,
    trace_id: str | None = None,
) -> RunResult:
    """The run's status, attempts and first failure, from its steps.

    ``degraded_after_ms`` is compared with the time the application spent answering
    (the sum of the steps' measured exchanges), so orchestration never degrades a run.
    """
    failed = next((step for step in steps if step.status is RunStatus.FAILED), None)
    served_ms = sum(step.duration_ms for step in steps)
    if failed is not None:
        status = RunStatus.FAILED
    elif spec.degraded_after_ms is not None and served_ms > spec.degraded_after_ms:
        status = RunStatus.DEGRADED
    else:
        status = RunStatus.PASSED
    # Attempts beyond the first, over all steps: > 1 exactly when something was retried.
    attempts = 1 + sum(max(step.attempts - 1, 0) for step in steps)
    return RunResult(
        workflow=spec.name,
        environment=environment,
        priority=spec.priority,
        status=status,
        started_at=started_at,
        finished_at=finished_at,
        duration_ms=(finished_at - started_at).total_seconds() * 1000,
        attempts=attempts,
        error_type=failed.error_type if failed else None,
        error_message=failed.error_message if failed else None,
        failed_step=failed.name if failed else None,
        flow_run_id=flow_run_id,
        trace_id=trace_id,
        steps=tuple(steps),
    )


def skipped_run(
    *,
    spec: WorkflowSpec,
    environment: str,
    started_at: datetime,
    finished_at: datetime,
    flow_run_id: str | None = None,
) -> RunResult:
    """A run its open circuit breaker stopped: nothing was sent, nothing retried."""
    return RunResult(
        workflow=spec.name,
        environment=environment,
        priority=spec.priority,
        status=RunStatus.SKIPPED,
        started_at=started_at,
        finished_at=finished_at,
        duration_ms=(finished_at - started_at).total_seconds() * 1000,
        attempts=0,
        error_message="circuit breaker open: run skipped",
        flow_run_id=flow_run_id,
    )
