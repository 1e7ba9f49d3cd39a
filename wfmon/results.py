"""What a workflow run produced: plain, frozen values shared by tasks, flows, store and API.

Expected failures are data here (a failed step is a ``StepResult`` with an error type),
never exceptions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class RunStatus(enum.StrEnum):
    """Outcome of a workflow run or of one step."""

    PASSED = "passed"
    DEGRADED = "degraded"
    FAILED = "failed"
    SKIPPED = "skipped"


class ErrorType(enum.StrEnum):
    """Why a step failed (SPEC §4); drives retry decisions."""

    TRANSIENT = "TRANSIENT"
    PERMANENT = "PERMANENT"
    RATE_LIMIT = "RATE_LIMIT"
    TIMEOUT = "TIMEOUT"
    NETWORK = "NETWORK"
    ASSERTION = "ASSERTION"
    UNKNOWN = "UNKNOWN"


class Priority(enum.StrEnum):
    """How much a workflow matters; alert rules filter on it."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class ConditionResult:
    """One evaluated assertion: ``display`` shows the actual value, e.g. ``status (503) == 200``."""

    condition: str
    display: str
    success: bool


@dataclass(frozen=True, slots=True)
class StepResult:
    """One step of one run, as recorded."""

    name: str
    status: RunStatus
    http_status: int | None = None
    # Measured around the HTTP exchange only, excluding orchestration.
    duration_ms: float = 0.0
    attempts: int = 1
    error_type: ErrorType | None = None
    error_message: str | None = None
    conditions: tuple[ConditionResult, ...] = ()


@dataclass(frozen=True, slots=True)
class RunResult:
    """One workflow run, as recorded (SPEC §4)."""

    workflow: str
    environment: str
    priority: Priority
    status: RunStatus
    started_at: datetime
    finished_at: datetime
    duration_ms: float
    attempts: int = 1
    error_type: ErrorType | None = None
    error_message: str | None = None
    failed_step: str | None = None
    flow_run_id: str | None = None
    trace_id: str | None = None
    steps: tuple[StepResult, ...] = field(default=())
