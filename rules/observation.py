"""What the rules see about one run: plain values the caller gathers from the store.

The caller (the post-run flow) builds one ``Observation`` per finished run, with the
history-dependent numbers computed in SQL (STYLE rule 9): the streak of failures, the
counts over each window that ``required_windows(rules)`` asks for, and ``failing_since``.

DURATION design (the simplest pure one we can defend): instead of a per-condition
"true since" history, the caller supplies ``failing_since``, the start of the current
run of non-passing runs (the ``started_at`` of the oldest failed or skipped run newer than
the last passed/degraded run; ``None`` when this run passed). A DURATION condition holds
when its comparison holds for this run *and* ``now - failing_since >= duration``. That is
exact for ``workflow.status == failed`` and reads "has been failing for N ms, and this
failure matches" for the other failure metrics; ``rules.config`` refuses DURATION on
metrics where that reading would be dishonest (e.g. ``workflow.duration``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from rules.models import AlertRule, ConditionType
from wfmon.results import ErrorType, Priority, RunResult, RunStatus, StepResult


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Run counts of one workflow and environment over the last ``window`` ms."""

    runs: int
    failed: int  # status failed
    succeeded: int  # status passed or degraded; skipped runs count in ``runs`` only

    @property
    def failure_rate(self) -> float | None:
        """Percentage of failed runs; None without runs."""
        return None if self.runs == 0 else 100.0 * self.failed / self.runs

    @property
    def success_rate(self) -> float | None:
        """Percentage of passed or degraded runs; None without runs."""
        return None if self.runs == 0 else 100.0 * self.succeeded / self.runs


@dataclass(frozen=True, slots=True)
class Observation:
    """One finished run of one workflow in one environment, plus its recent history."""

    workflow: str
    environment: str
    priority: Priority
    status: RunStatus
    finished_at: datetime
    duration_ms: float
    tags: frozenset[str] = frozenset()
    attempts: int = 1
    error_message: str | None = None
    error_type: ErrorType | None = None
    failed_step: str | None = None
    # The failed step's first failed assertion with its actual value: "status (503) == 200".
    failed_condition: str | None = None
    run_id: str | None = None
    steps: tuple[StepResult, ...] = ()
    # Failed runs in a row, this one included (0 when this run did not fail).
    consecutive_failures: int = 0
    # window_ms -> counts; a RATE condition whose window is missing here never holds.
    windows: Mapping[int, WindowStats] = field(default_factory=dict)
    failing_since: datetime | None = None
    # Workflows in ``depends_on`` whose latest run failed: they suppress sending.
    failing_dependencies: tuple[str, ...] = ()

    @classmethod
    def from_run(
        cls,
        run: RunResult,
        *,
        run_id: str | None = None,
        tags: Iterable[str] = (),
        consecutive_failures: int = 0,
        windows: Mapping[int, WindowStats] | None = None,
        failing_since: datetime | None = None,
        failing_dependencies: Iterable[str] = (),
    ) -> Observation:
        """The observation of ``run``, with the history the caller computed."""
        failed_condition = next(
            (
                c.display
                for step in run.steps
                if step.name == run.failed_step
                for c in step.conditions
                if not c.success
            ),
            None,
        )
        return cls(
            workflow=run.workflow,
            environment=run.environment,
            priority=run.priority,
            status=run.status,
            finished_at=run.finished_at,
            duration_ms=run.duration_ms,
            tags=frozenset(tags),
            attempts=run.attempts,
            error_message=run.error_message,
            error_type=run.error_type,
            failed_step=run.failed_step,
            failed_condition=failed_condition,
            run_id=run_id if run_id is not None else run.flow_run_id,
            steps=run.steps,
            consecutive_failures=consecutive_failures,
            windows=dict(windows or {}),
            failing_since=failing_since,
            failing_dependencies=tuple(failing_dependencies),
        )


def required_windows(rules: Iterable[AlertRule]) -> set[int]:
    """The windows (ms) the caller must aggregate for the enabled rules' RATE conditions."""
    return {
        condition.window_ms
        for rule in rules
        if rule.enabled
        for condition in rule.conditions
        if condition.type is ConditionType.RATE and condition.window_ms is not None
    }
