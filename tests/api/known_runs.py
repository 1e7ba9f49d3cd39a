"""A known set of recorded runs and what the metrics API must say about it, computed here
the slow obvious way (lists of runs, sorted values), independently of ``store.metrics``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tests.api.conftest import NOW
from wfmon.results import ErrorType, Priority, RunResult, RunStatus, StepResult

# (workflow, environment, priority, median duration ms)
WORKFLOWS = (
    ("checkout", "production", Priority.CRITICAL, 900.0),
    ("checkout", "staging", Priority.CRITICAL, 1400.0),
    ("search", "production", Priority.MEDIUM, 250.0),
)

# The documented windows at NOW (store.metrics), written out rather than computed.
WINDOWS = {
    "1h": (datetime(2026, 5, 20, 11, 30, tzinfo=UTC), datetime(2026, 5, 20, 10, 30, tzinfo=UTC)),
    "24h": (datetime(2026, 5, 19, 12, 0, tzinfo=UTC), datetime(2026, 5, 18, 12, 0, tzinfo=UTC)),
    "7d": (datetime(2026, 5, 13, tzinfo=UTC), datetime(2026, 5, 6, tzinfo=UTC)),
    "30d": (datetime(2026, 4, 20, tzinfo=UTC), datetime(2026, 3, 21, tzinfo=UTC)),
}
PERIOD_HOURS = {"1h": 1.0, "24h": 24.0, "7d": 168.0, "30d": 720.0}


def _run(
    rng: random.Random,
    workflow: str,
    environment: str,
    priority: Priority,
    median: float,
    at: datetime,
) -> RunResult:
    status = rng.choices(
        (RunStatus.PASSED, RunStatus.DEGRADED, RunStatus.FAILED, RunStatus.SKIPPED),
        weights=(70, 10, 15, 5),
    )[0]
    return _make(rng, workflow, environment, priority, median, at, status)


def _make(
    rng: random.Random,
    workflow: str,
    environment: str,
    priority: Priority,
    median: float,
    at: datetime,
    status: RunStatus,
) -> RunResult:
    if status is RunStatus.SKIPPED:
        return RunResult(
            workflow=workflow,
            environment=environment,
            priority=priority,
            status=status,
            started_at=at,
            finished_at=at,
            duration_ms=0.2,
            attempts=0,
            error_message="circuit breaker open: run skipped",
        )
    duration = round(rng.lognormvariate(math.log(median), 0.6), 3)
    attempts = rng.choice((1, 1, 1, 1, 2, 3))
    failed = status is RunStatus.FAILED
    steps = (
        StepResult(name="open", status=RunStatus.PASSED, http_status=200, duration_ms=duration / 3),
        StepResult(
            name="act",
            status=status if failed else RunStatus.PASSED,
            http_status=503 if failed else 200,
            duration_ms=duration / 2,
            attempts=attempts,
            error_type=ErrorType.TRANSIENT if failed else None,
        ),
    )
    return RunResult(
        workflow=workflow,
        environment=environment,
        priority=priority,
        status=status,
        started_at=at,
        finished_at=at + timedelta(milliseconds=duration),
        duration_ms=duration,
        attempts=attempts,
        error_type=ErrorType.TRANSIENT if failed else None,
        failed_step="act" if failed else None,
        steps=steps,
    )


def known_runs() -> tuple[list[RunResult], list[RunResult]]:
    """Runs to record in order, then runs to record late (started before others recorded)."""
    rng = random.Random(20260520)
    in_order: list[RunResult] = []
    for workflow, environment, priority, median in WORKFLOWS:
        # Every ~9 h for 62 days, every ~1 h for the last 2 days, every ~9 min at the end:
        # every period and the one before it have runs, at several densities.
        at = NOW - timedelta(days=62, minutes=rng.randint(0, 300))
        while at < NOW - timedelta(minutes=1):
            in_order.append(_run(rng, workflow, environment, priority, median, at))
            left = NOW - at
            if left > timedelta(days=2):
                step = timedelta(minutes=rng.randint(300, 800))
            elif left > timedelta(hours=3):
                step = timedelta(minutes=rng.randint(40, 90))
            else:
                step = timedelta(minutes=rng.randint(5, 13))
            at += step
    in_order.sort(key=lambda run: run.started_at)
    # search fails at the end: failed, skipped (neither breaks nor extends), failed, failed.
    tail = [RunStatus.FAILED, RunStatus.SKIPPED, RunStatus.FAILED, RunStatus.FAILED]
    last = NOW - timedelta(minutes=1)
    for offset, status in enumerate(reversed(tail)):
        at = last - timedelta(seconds=10 * offset)
        in_order.append(_make(rng, "search", "production", Priority.MEDIUM, 250.0, at, status))
    in_order.sort(key=lambda run: run.started_at)
    late = [
        _make(rng, "checkout", "production", Priority.CRITICAL, 900.0, at, RunStatus.PASSED)
        for at in (
            NOW - timedelta(days=3, minutes=7),
            datetime(2026, 5, 19, 12, 5, tzinfo=UTC),  # inside the 24h period's first hour
            datetime(2026, 4, 20, 0, 30, tzinfo=UTC),  # inside the 30d period's first day
        )
    ]
    return in_order, late


# --- the expected numbers ----------------------------------------------------------------


def nearest_rank(values: Sequence[float], percent: int) -> float:
    """The nearest-rank percentile: the smallest value with ``percent``% at or below it."""
    ordered = sorted(values)
    rank = -(-percent * len(ordered) // 100)  # ceil without floats
    return ordered[max(rank, 1) - 1]


@dataclass(frozen=True, slots=True)
class Expected:
    """What a set of runs adds up to."""

    total: int
    successful: int
    failed: int
    degraded: int
    skipped: int
    retried: int
    success_rate: float
    average_duration: float
    durations: tuple[float, ...]

    @classmethod
    def of(cls, runs: Iterable[RunResult]) -> Expected:
        """Count the runs."""
        runs = list(runs)
        timed = [run.duration_ms for run in runs if run.status is not RunStatus.SKIPPED]
        ok = sum(run.status in (RunStatus.PASSED, RunStatus.DEGRADED) for run in runs)
        return cls(
            total=len(runs),
            successful=ok,
            failed=sum(run.status is RunStatus.FAILED for run in runs),
            degraded=sum(run.status is RunStatus.DEGRADED for run in runs),
            skipped=sum(run.status is RunStatus.SKIPPED for run in runs),
            retried=sum(run.attempts > 1 for run in runs),
            success_rate=100.0 * ok / len(runs) if runs else 0.0,
            average_duration=sum(timed) / len(timed) if timed else 0.0,
            durations=tuple(timed),
        )


def since(
    runs: Iterable[RunResult], start: datetime, end: datetime | None = None
) -> list[RunResult]:
    """Runs started in ``[start, end)``."""
    return [
        run for run in runs if run.started_at >= start and (end is None or run.started_at < end)
    ]


def trend_word(current: float, previous: float, words: tuple[str, str, str]) -> str:
    """(up, down, stable) by the ±10% rule."""
    up, down, stable = words
    if previous == 0:
        return up if current > 0 else stable
    change = (current - previous) / previous
    return up if change > 0.10 else down if change < -0.10 else stable


def consecutive_failures(runs: Iterable[RunResult]) -> int:
    """Failed runs since the last passed or degraded one; skipped runs are passed over."""
    streak = 0
    for run in sorted(runs, key=lambda r: r.started_at, reverse=True):
        if run.status in (RunStatus.PASSED, RunStatus.DEGRADED):
            break
        streak += run.status is RunStatus.FAILED
    return streak


def hour_floor(moment: datetime) -> datetime:
    """The start of the moment's UTC hour."""
    return moment.replace(minute=0, second=0, microsecond=0)


def stamp(moment: datetime) -> str:
    """How the API writes a time."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def close_to(reported: float, exact: float, relative: float) -> bool:
    """Whether a bucketed percentile is within the histogram's resolution of the exact one."""
    return abs(reported - exact) <= relative * exact + 1e-9
