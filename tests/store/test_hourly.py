"""A period's hour totals (its sums, the previous period's, its hourly series) equal the
runs' own counts on both backends, while the closed hours are kept in memory: runs in the
open hours, runs recorded late into closed hours of either period, and hours that gain
their first run all show at the next read. (``_Store.read`` checks the sums.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session

from store import record_run
from store.hourly import HourMetrics, period_hours
from tests.store.examples import passed_run
from wfmon.results import RunStatus

START = datetime(2026, 3, 1, tzinfo=UTC)
PREVIOUS = START - timedelta(hours=31)
NOW = START + timedelta(hours=30, minutes=20)

Recorded = tuple[datetime, RunStatus, float]


def _expected(recorded: list[Recorded]) -> list[HourMetrics]:
    """The series computed from the runs themselves, without the store."""
    hours = []
    hour = START
    while hour <= NOW:
        inside = [run for run in recorded if hour <= run[0] < hour + timedelta(hours=1)]
        timed = [duration for _, status, duration in inside if status is not RunStatus.SKIPPED]
        ok = (RunStatus.PASSED, RunStatus.DEGRADED)
        hours.append(
            HourMetrics(
                hour,
                len(inside),
                sum(1 for _, status, _ in inside if status in ok),
                sum(1 for _, status, _ in inside if status is RunStatus.FAILED),
                sum(timed) / len(timed) if timed else 0.0,
            )
        )
        hour += timedelta(hours=1)
    return hours


def _sums(runs: list[Recorded]) -> tuple[object, ...]:
    """The sums of ``store.rollups.COUNT_COLUMNS`` over ``runs``."""
    statuses = [status for _, status, _ in runs]
    timed = [ms for _, status, ms in runs if status is not RunStatus.SKIPPED]
    return (
        len(runs),
        statuses.count(RunStatus.PASSED),
        statuses.count(RunStatus.DEGRADED),
        statuses.count(RunStatus.FAILED),
        statuses.count(RunStatus.SKIPPED),
        0,  # runs with attempts > 1: passed_run makes one attempt
        len(timed),
        float(sum(timed)),
    )


class _Store:
    """Records runs, reads the series, and counts the statements a read takes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.recorded: list[Recorded] = []
        self.statements = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, _connection: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("SELECT"):  # not SQLite's BEGIN
            self.statements += 1

    def record(self, at: datetime, status: RunStatus = RunStatus.PASSED, ms: float = 100) -> None:
        run = passed_run(workflow="login", started_at=at, status=status, duration_ms=ms)
        record_run(self.engine, result=run)
        self.recorded.append((at, status, ms))

    def read(self) -> tuple[list[HourMetrics], int]:
        """The series, and how many statements reading it took."""
        before = self.statements
        with Session(self.engine) as session:
            hours = period_hours(session, previous_start=PREVIOUS, start=START, now=NOW)
        current = [run for run in self.recorded if run[0] >= START]
        previous = [run for run in self.recorded if PREVIOUS <= run[0] < START]
        assert (hours.current, hours.previous) == (_sums(current), _sums(previous))
        return list(hours.series), self.statements - before


@pytest.fixture
def store(migrated_engine: Engine) -> Iterator[_Store]:
    yield _Store(migrated_engine)


def test_kept_closed_hours_stay_exact_as_runs_arrive(store: _Store) -> None:
    for hours, status, ms in ((-5, RunStatus.FAILED, 40.0), (0, RunStatus.PASSED, 120.0)):
        store.record(START + timedelta(hours=hours, minutes=5), status, ms)
    store.record(START + timedelta(hours=3, minutes=5), RunStatus.FAILED, 80.0)
    store.record(NOW - timedelta(minutes=10), RunStatus.DEGRADED, 300.0)

    first, _ = store.read()
    again, statements = store.read()
    assert first == again == _expected(store.recorded)
    assert len(first) == 31
    # The closed hours come from memory: one statement for the open hours and the check.
    assert statements == 1

    # A run in an open hour: still one statement, and it shows.
    store.record(NOW - timedelta(minutes=1), RunStatus.SKIPPED, 0.5)
    series, statements = store.read()
    assert (series, statements) == (_expected(store.recorded), 1)

    # Runs recorded late into closed hours, one of which had none: read again, exactly.
    store.record(START + timedelta(hours=3, minutes=40), RunStatus.PASSED, 500.0)
    store.record(START + timedelta(hours=7), RunStatus.PASSED, 50.0)
    series, statements = store.read()
    assert (series, statements) == (_expected(store.recorded), 2)
    # Also into the period before: its sums change, the series does not.
    store.record(START - timedelta(hours=2), RunStatus.DEGRADED, 70.0)
    assert store.read() == (series, 2)
    assert series[7] == HourMetrics(START + timedelta(hours=7), 1, 1, 0, 50.0)


def test_an_empty_period_is_all_zeros(store: _Store) -> None:
    series, _ = store.read()
    assert series == _expected([])
    assert all(hour.runs == 0 for hour in series)
