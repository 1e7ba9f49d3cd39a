"""Plain-value builders for the rules tests: a fixed clock and observations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rules import Observation, WindowStats
from wfmon.results import ErrorType, Priority, RunStatus, StepResult

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
HOUR_MS = 3_600_000


def at(*, minutes: float = 0, seconds: float = 0) -> datetime:
    """The fake clock: ``T0`` plus an offset."""
    return T0 + timedelta(minutes=minutes, seconds=seconds)


def passed(**overrides: Any) -> Observation:
    """A passing run of ``checkout`` in ``production`` (override any field)."""
    values: dict[str, Any] = {
        "workflow": "checkout",
        "environment": "production",
        "priority": Priority.HIGH,
        "status": RunStatus.PASSED,
        "finished_at": T0,
        "duration_ms": 1200.0,
        "run_id": "run-1",
        "steps": (StepResult(name="home", status=RunStatus.PASSED, duration_ms=200.0),),
        "windows": {HOUR_MS: WindowStats(runs=10, failed=0, succeeded=10)},
    }
    values.update(overrides)
    return Observation(**values)


def failed(**overrides: Any) -> Observation:
    """A failed run of ``checkout``: step ``pay`` answered 503 after 3 attempts."""
    values: dict[str, Any] = {
        "status": RunStatus.FAILED,
        "error_message": "HTTP 503 from /api/pay",
        "error_type": ErrorType.TRANSIENT,
        "failed_step": "pay",
        "failed_condition": "status (503) == 200",
        "attempts": 3,
        "consecutive_failures": 1,
        "failing_since": T0,
        "steps": (
            StepResult(name="home", status=RunStatus.PASSED, duration_ms=200.0),
            StepResult(name="pay", status=RunStatus.FAILED, duration_ms=900.0),
        ),
    }
    values.update(overrides)
    return passed(**values)
