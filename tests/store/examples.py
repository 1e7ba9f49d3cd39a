"""Example run results for store tests: every field set, so round trips prove every column."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from wfmon.results import ConditionResult, ErrorType, Priority, RunResult, RunStatus, StepResult

T0 = datetime(2026, 5, 20, 12, 0, 0, 123456, tzinfo=UTC)


def failed_checkout(**overrides: Any) -> RunResult:
    """A failed run with three steps: passed, failed on an assertion, always-run sign-out."""
    run = RunResult(
        workflow="checkout",
        environment="staging",
        priority=Priority.CRITICAL,
        status=RunStatus.FAILED,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=2, microseconds=500),
        duration_ms=2000.5,
        attempts=3,
        error_type=ErrorType.ASSERTION,
        error_message="status (503) == 200",
        failed_step="pay",
        flow_run_id="6f1c2a47-93a4-4c4e-9f0e-1b2d3c4d5e6f",
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        steps=(
            StepResult(
                name="sign in",
                status=RunStatus.PASSED,
                http_status=200,
                duration_ms=120.25,
                attempts=1,
                conditions=(
                    ConditionResult("status == 200", "status (200) == 200", True),
                    ConditionResult("body.token exists", "body.token (…) exists", True),
                ),
            ),
            StepResult(
                name="pay",
                status=RunStatus.FAILED,
                http_status=503,
                duration_ms=1800.0,
                attempts=3,
                error_type=ErrorType.ASSERTION,
                error_message="status (503) == 200",
                conditions=(ConditionResult("status == 200", "status (503) == 200", False),),
            ),
            StepResult(name="sign out", status=RunStatus.PASSED, http_status=204),
        ),
    )
    return dataclasses.replace(run, **overrides)


def passed_run(*, workflow: str, started_at: datetime, **overrides: Any) -> RunResult:
    """A minimal passed run of ``workflow`` with no steps."""
    run = RunResult(
        workflow=workflow,
        environment="production",
        priority=Priority.HIGH,
        status=RunStatus.PASSED,
        started_at=started_at,
        finished_at=started_at + timedelta(milliseconds=100),
        duration_ms=100.0,
    )
    return dataclasses.replace(run, **overrides)
